package scheduler

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/postgres"
)

// The last slot fired is a floor for every clock: one behind the clock
// that fired a slot (another replica's, or this process's after it stepped
// back) must not fire that slot again, nor miss the next.

// claimSpy hands the test every job a replica's claims write.
type claimSpy struct {
	*postgres.Store
	claimed chan store.JobRecord
}

func (c *claimSpy) ClaimJobs(ctx context.Context, owner string, now time.Time, limit int, plan func(store.JobRecord) (store.JobState, bool)) ([]store.JobRecord, error) {
	recs, err := c.Store.ClaimJobs(ctx, owner, now, limit, plan)
	for _, r := range recs {
		select {
		case c.claimed <- r:
		default:
		}
	}
	return recs, err
}

// Replica a (right clock) fires a slot; replica b, whose clock is 1 s
// behind, serves an UpdateJob that changes the schedule, and computes the
// next slot from its clock: the slot a fired. The slot is not sent again,
// and the next one is.
func TestReplicaClockBehindDoesNotRefireASlot(t *testing.T) {
	ctx := context.Background()
	sts := openShared(t, 2)
	base := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1m", t0, nil)
	s := newSink()
	spy := &claimSpy{Store: sts[0], claimed: make(chan store.JobRecord, 100)}
	clkA, clkB := skewed{base, 0}, skewed{base, -time.Second}
	sigA := NewTestSignals(10)
	a := startReplica(t, spy, "a", clkA, s.sender("a", clkA), sigA)
	b := startReplica(t, sts[1], "b", clkB, s.sender("b", clkB), nil)

	slot := at("12:01:00")
	base.Set(slot) // a reads 12:01:00, b 12:00:59
	if d := recv(t, sigA.ExecutionDone, "a's execution of the slot"); !d.ScheduleTime.Equal(slot) {
		t.Fatalf("a executed %+v", d)
	}
	flushAll(t, a, b)
	rec, err := sts[1].GetJob(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.LastSlot.Equal(slot) || !rec.NextFire.Equal(at("12:02:00")) || rec.Exec != nil {
		t.Fatalf("after the slot: last slot %v, next %v, exec %+v", rec.LastSlot, rec.NextFire, rec.Exec)
	}

	// b's write, its next slot computed from b's clock alone (as a writer
	// that does not know the floor would): the replicas must hold the
	// floor whoever computed NextFire.
	rec.Job.Schedule = "every 30s"
	sch, err := parseFixture(rec.Job.GetSchedule(), "UTC")
	if err != nil {
		t.Fatal(err)
	}
	next := sch.Next(clkB.Now())
	if !next.Equal(slot) {
		t.Fatalf("the fixture's clock b finds %v next, want the slot fired", next)
	}
	rec.NextFire, rec.DueTime, rec.Job.ScheduleTime = next, next, timestamppb.New(next)
	if err := sts[1].UpdateJob(ctx, rec, rec.Version); err != nil {
		t.Fatal(err)
	}
	b.Changed(name)

	// a finds the job due by its clock and claims it: the claim moves it
	// to the first slot after the one fired, and starts nothing.
	for {
		c := recv(t, spy.claimed, "a's claim of the updated job")
		if c.Job.GetName() != name || c.Version <= rec.Version+1 {
			continue // the claims before the update
		}
		if c.Exec != nil || !c.NextFire.Equal(at("12:01:30")) || !c.DueTime.Equal(at("12:01:30")) || !c.LastSlot.Equal(slot) {
			t.Fatalf("a's claim after the update: exec %+v, next %v, due %v, last slot %v; want no execution and 12:01:30",
				c.Exec, c.NextFire, c.DueTime, c.LastSlot)
		}
		break
	}

	// The next slot fires, once.
	reached := s.expect(2)
	base.Set(at("12:01:30"))
	waitFor(t, reached, "the next slot")
	flushAll(t, a, b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total != 2 || s.seen[name+"@"+FormatScheduleTime(slot)] != 1 || s.seen[name+"@"+FormatScheduleTime(at("12:01:30"))] != 1 {
		t.Fatalf("sends %v, want each slot once", s.seen)
	}
}

// steppedClock is a fake clock that can be stepped back (clock.Fake never
// goes back): it reads back behind base, and its timers run when it reads
// their time.
type steppedClock struct {
	base *clock.Fake
	back atomic.Int64 // nanoseconds
}

func (c *steppedClock) Now() time.Time { return c.base.Now().Add(-time.Duration(c.back.Load())) }
func (c *steppedClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return c.base.AfterFunc(d, f)
}

// One process, its clock stepped back 0.6 s after it fired a slot; a
// schedule change then computes that slot again from the clock. The
// engine does not fire it again, and fires the next.
func TestEngineClockSteppedBackDoesNotRefireASlot(t *testing.T) {
	st := newMemStore()
	base := clock.NewFake(t0)
	clk := &steppedClock{base: base}
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	e := New(Config{Store: st, Clock: clk, Sender: snd, Parse: parseFixture, Workers: 2, Signals: sig})
	name := addJob(t, st, "j", "every 1m", nil)
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		e.Stop(ctx)
	})

	slot := at("12:01:00")
	base.Set(slot)
	if f := recv(t, sig.Fired, "the slot"); !f.ScheduleTime.Equal(slot) {
		t.Fatalf("fired %+v", f)
	}
	recv(t, snd.calls, "the slot's attempt").answer(codes.OK, 200)
	recv(t, sig.ExecutionDone, "the slot's execution")

	clk.back.Store(int64(600 * time.Millisecond))
	rec, err := st.GetJob(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	rec.Job.Schedule = "every 30s" // its next slot from 12:00:59.4 is the one fired
	if err := st.UpdateJob(context.Background(), rec, rec.Version); err != nil {
		t.Fatal(err)
	}
	e.Changed(name)
	if err := e.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec, err = st.GetJob(context.Background(), name); err != nil {
		t.Fatal(err)
	} else if !rec.NextFire.Equal(at("12:01:30")) {
		// schedule_time must not show the slot already fired either.
		t.Fatalf("after the change the engine stored next fire %v, want 12:01:30", rec.NextFire)
	}

	// The clock reads the slot again: slots are claimed inside Set, so
	// nothing fired when it returns is conclusive.
	base.Set(slot.Add(600 * time.Millisecond))
	select {
	case f := <-sig.Fired:
		t.Fatalf("fired again: %+v", f)
	default:
	}
	base.Set(at("12:01:30").Add(600 * time.Millisecond))
	if f := recv(t, sig.Fired, "the next slot"); !f.ScheduleTime.Equal(at("12:01:30")) || f.Skipped != 0 {
		t.Fatalf("fired %+v, want 12:01:30", f)
	}
	recv(t, snd.calls, "the next slot's attempt").answer(codes.OK, 200)
}
