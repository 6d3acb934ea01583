package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"google.golang.org/grpc/codes"

	"github.com/oidcron/oidcron/internal/store"
)

// drain empties c.
func drain[T any](c chan T) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// A batch whose write fails keeps its attempts and job states: they are
// written again, once, when the retry timer fires (1s, then 2s later), with
// no new work to wake the writer. Without a transaction, attempts already
// recorded when a later statement fails are not recorded twice.
func TestFailedWriteIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		states bool // fail the state writes (after the attempts) instead of the attempts
	}{{"attempts", false}, {"states", true}} {
		t.Run(tc.name, func(t *testing.T) {
			base := newMemStore()
			var names []string
			for _, id := range []string{"a", "b", "c"} {
				names = append(names, addJob(t, base, id, "every 1m", nil))
			}
			st := &hookStore{JobStore: base}
			var hp atomic.Pointer[harness]
			var until atomic.Int64 // writes fail while the clock is before it (UnixNano)
			failed := make(chan int, 100)
			wrote := make(chan struct{}, 100)
			boom := errors.New("disk I/O error")
			// The first failed write carrying every attempt holds the writer
			// until the test lets it go, so that the test can drop a wake-up
			// left over from the burst: after it, only the retry timer wakes
			// the writer.
			held, release := make(chan struct{}), make(chan struct{})
			var holding atomic.Bool
			holding.Store(true)
			// hook fails or passes a write carrying n attempts or results.
			// It empties Flushed first, so that the next Flushed is sent
			// when the flush making this write is over.
			hook := func(n int) error {
				h := hp.Load()
				if h == nil || n == 0 {
					return nil
				}
				drain(h.sig.Flushed)
				if h.clk.Now().UnixNano() < until.Load() {
					if n == len(names) && holding.CompareAndSwap(true, false) {
						close(held)
						<-release
					}
					failed <- n
					return boom
				}
				wrote <- struct{}{}
				return nil
			}
			if tc.states {
				st.statesErr = func(states []store.JobState) error {
					n := 0
					for _, s := range states {
						if s.Result != nil {
							n++
						}
					}
					return hook(n)
				}
			} else {
				st.addErr = func(as []store.Attempt) error { return hook(len(as)) }
			}
			h := newHarness(t, st, t0, nil)
			hp.Store(h)
			h.sync()
			h.clk.Set(at("12:01:00"))
			var calls []*call
			for range names {
				calls = append(calls, h.call())
			}
			h.sync() // the claims
			until.Store(at("12:01:02").UnixNano())
			drain(wrote)
			for _, c := range calls {
				c.answer(codes.OK, 200)
			}
			for range names {
				recv(t, h.sig.ExecutionDone, "an execution")
			}
			// The writes fail until one carries all three.
			recv(t, held, "a failed write of every attempt")
			drain(h.e.wake)
			close(release)
			for recv(t, failed, "a failed write") < len(names) {
			}
			recv(t, h.sig.Flushed, "the failed flush")
			check := func(attempts int, exec bool) {
				t.Helper()
				for _, name := range names {
					as, err := base.ListAttempts(context.Background(), name, 0, at("23:00:00"))
					if err != nil {
						t.Fatal(err)
					}
					r, err := base.GetJob(context.Background(), name)
					if err != nil {
						t.Fatal(err)
					}
					if len(as) != attempts || (r.Exec != nil) != exec {
						t.Fatalf("%s: %d attempts stored (want %d), exec %+v (want one: %v)", name, len(as), attempts, r.Exec, exec)
					}
				}
			}
			stored := 0
			if tc.states {
				stored = 1 // written before the state write failed
			}
			check(stored, true)
			// The first retry, 1s later, fails again; the next waits 2s.
			h.clk.Advance(retryWrite)
			if n := recv(t, failed, "the failed retry"); n != len(names) {
				t.Fatalf("the retry carried %d, want %d", n, len(names))
			}
			recv(t, h.sig.Flushed, "the failed retry's flush")
			h.clk.Advance(retryWrite)
			select {
			case <-wrote:
				t.Fatal("written again before the backoff")
			case <-failed:
				t.Fatal("tried again before the backoff")
			default:
			}
			h.clk.Advance(retryWrite)
			recv(t, wrote, "the successful retry")
			recv(t, h.sig.Flushed, "the retry's flush")
			check(1, false)
			h.sync()
			check(1, false)
			if n := h.metric("oidcron_scheduler_store_write_errors_total", ""); n < 2 {
				t.Fatalf("%v write errors counted, want at least 2", n)
			}
			if n := h.metric("oidcron_scheduler_dropped_attempts_total", ""); n != 0 {
				t.Fatalf("%v attempts dropped", n)
			}
		})
	}
}

// Under load the writer holds the outcomes of attempts that end while
// others are still being sent, so that one transaction writes many; a
// claim (a send waits for it) and Flush cut the hold short. The hold is
// made an hour long here, so that only those end it.
func TestWriterHoldsOutcomesWhileAttemptsRun(t *testing.T) {
	base := newMemStore()
	var names []string
	for _, id := range []string{"a", "b", "c", "d"} { // as many as the harness's workers
		names = append(names, addJob(t, base, id, "every 1m", nil))
	}
	late := addJob(t, base, "late", "once 2026-03-01T12:01:30Z", nil)
	adds := make(chan int, 100) // the attempts each AddAttempts carries
	st := &hookStore{JobStore: base, beforeAdd: func(as []store.Attempt) { adds <- len(as) }}
	h := newHarness(t, st, t0, nil)
	h.e.mu.Lock()
	h.e.holdMax = time.Hour
	h.e.mu.Unlock()
	h.sync()
	h.clk.Set(at("12:01:00"))
	calls := make([]*call, len(names))
	for i := range calls {
		calls[i] = h.call()
	}
	h.sync() // the claims

	// Three attempts end while the fourth is still being sent: held.
	for _, c := range calls[:3] {
		c.answer(codes.OK, 200)
		recv(t, h.sig.AttemptFinished, "an attempt's end")
	}
	// A claim is written at once, and the held outcomes with it.
	h.clk.Set(at("12:01:30"))
	lc := h.call()
	if lc.job.GetName() != late {
		t.Fatalf("sent %s, want %s", lc.job.GetName(), late)
	}
	if n := recv(t, adds, "the held attempts' write"); n != 3 {
		t.Fatalf("the first write after the claims carried %d attempts, want the 3 held together", n)
	}
	// The fourth ends while late is being sent: held, until Flush.
	calls[3].answer(codes.OK, 200)
	recv(t, h.sig.AttemptFinished, "the fourth attempt's end")
	h.sync()
	if n := recv(t, adds, "the fourth attempt's write"); n != 1 {
		t.Fatalf("Flush wrote %d attempts, want 1", n)
	}
	for _, name := range names {
		if as, err := base.ListAttempts(context.Background(), name, 0, time.Time{}); err != nil || len(as) != 1 {
			t.Fatalf("%s: %d attempts stored (err %v), want 1", name, len(as), err)
		}
	}
	lc.answer(codes.OK, 200)
}

// callLog records the order of a store's attempt and manual-execution
// writes.
type callLog struct {
	*memStore
	calls []string
}

func (c *callLog) AddAttempts(ctx context.Context, as []store.Attempt) error {
	manual := 0
	for _, a := range as {
		if a.Manual {
			manual++
		}
	}
	c.calls = append(c.calls, fmt.Sprintf("attempts %d manual %d", len(as), manual))
	return c.memStore.AddAttempts(ctx, as)
}

func (c *callLog) UpdateManuals(ctx context.Context, ws []store.ManualWrite) ([]int, error) {
	c.calls = append(c.calls, fmt.Sprintf("manuals %d", len(ws)))
	return c.memStore.UpdateManuals(ctx, ws)
}

// A RunJob attempt is written with its execution's progress, in the same
// write, even when it came first among more attempts than one write takes.
func TestManualAttemptWrittenWithItsProgress(t *testing.T) {
	st := &callLog{memStore: newMemStore()}
	e := New(Config{Store: st, Sender: SenderFunc(func(context.Context, *schedulerpb.Job, time.Time) Outcome { return Outcome{} })})
	name := addJob(t, st, "m", "every 1h", nil)
	e.attempts = append(e.attempts, store.Attempt{Job: name, Manual: true, Number: 1, Start: t0})
	for i := range maxBatch + 10 {
		e.attempts = append(e.attempts, store.Attempt{Job: name, Number: 1, Start: t0.Add(time.Duration(i+1) * time.Second)})
	}
	e.manualWs = append(e.manualWs, store.ManualWrite{ID: 1})
	e.flush()
	want := []string{fmt.Sprintf("attempts %d manual 0", maxBatch), "manuals 1", "attempts 11 manual 1"}
	if !slices.Equal(st.calls, want) {
		t.Fatalf("writes %q, want %q", st.calls, want)
	}
}
