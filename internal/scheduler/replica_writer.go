package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"github.com/oidcron/oidcron/internal/store"
)

// replicaWrite is what one finished attempt of a Replica writes besides the
// attempt itself: the job's new state (a scheduled execution), or only the
// job's result (a manual one, which owns no state in the store).
type replicaWrite struct {
	name        string
	incarnation int64
	// A scheduled execution's outcome: the state to write, checked
	// against the version of the claim, and the schedule the claim saw and
	// the execution's schedule time, for the merge when the API wrote the
	// job meanwhile.
	state    store.JobState
	key      schedKey
	execTime time.Time
	// claimed is the execution's attempt count when this replica claimed
	// it: with the schedule time and the owner, it tells this claim from
	// a later one of the same execution (this replica's heartbeat lapsed,
	// another took the execution over, made an attempt and released it,
	// and this replica claimed the retry).
	claimed int32
	// A manual execution's result.
	manual bool
	result *store.JobResult
}

type replicaItem struct {
	w   replicaWrite
	att store.Attempt
}

// replicaWriter group-commits a Replica's outcomes: everything that
// accumulated while the previous transaction ran, in transactions of at
// most maxBatch attempts.
type replicaWriter struct {
	r    *Replica
	keep int

	mu      sync.Mutex
	pending []replicaItem
	batch   *flushBatch // closed once the pending items are written
	writing *flushBatch
	untrim  int
	wait    time.Duration // backoff after a failed write
	timer   interface{ Stop() bool }
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
}

func newReplicaWriter(r *Replica, keep int) replicaWriter {
	return replicaWriter{r: r, keep: keep, batch: newBatch(),
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
}

func (w *replicaWriter) add(rw replicaWrite, att store.Attempt) {
	w.mu.Lock()
	w.pending = append(w.pending, replicaItem{w: rw, att: att})
	if over := len(w.pending) - maxPendingAttempts; over > 0 {
		// The store has refused writes for long: keep the newest. The
		// dropped executions stay this replica's in the store, unsent:
		// releaseUnknown gives them back once the store answers.
		for _, it := range w.pending[:over] {
			if !it.w.manual {
				w.r.hold(it.w.name, -1)
			}
		}
		w.r.reconcile.Store(true)
		w.pending = append(w.pending[:0], w.pending[over:]...)
		w.r.m.droppedAtts.Add(float64(over))
	}
	w.mu.Unlock()
	w.kick()
}

func (w *replicaWriter) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *replicaWriter) run() {
	defer close(w.done)
	for {
		select {
		case <-w.wake:
			w.writePending()
		case <-w.quit:
			w.writePending()
			return
		}
	}
}

// writePending writes everything pending; on a failure it keeps what was
// not written and tries again on the clock, waiting twice as long each
// time (up to maxRetryWrite).
func (w *replicaWriter) writePending() {
	w.mu.Lock()
	items := w.pending
	w.pending = nil
	b := w.batch
	w.batch = newBatch()
	w.writing = b
	w.mu.Unlock()

	var err error
	written := 0
	for len(items) > 0 && err == nil {
		n := min(len(items), maxBatch)
		if err = w.write(items[:n]); err == nil {
			for _, it := range items[:n] {
				if !it.w.manual {
					w.r.hold(it.w.name, -1) // the claim is settled in the store
				}
			}
			items = items[n:]
			written += n
		}
	}
	signal(w.r.sig.Flushed, struct{}{})
	w.mu.Lock()
	w.writing = nil
	if err != nil {
		w.r.m.writeErrs.Inc()
		w.pending = append(items, w.pending...)
		w.wait = min(max(2*w.wait, retryWrite), maxRetryWrite)
		w.r.log.Error("writing attempts and job states; trying again", "pending", len(w.pending), "err", err, "wait", w.wait)
		if w.timer != nil {
			w.timer.Stop()
		}
		w.timer = w.r.clk.AfterFunc(w.wait, w.kick)
	} else {
		w.wait = 0
	}
	if written > 0 {
		// Ended executions free their jobs' next slots, which may be
		// overdue: the claim loop looks now rather than at its next poll.
		w.r.kick()
	}
	w.untrim += written
	trim := w.untrim >= trimEveryDefault
	if trim {
		w.untrim = 0
	}
	w.mu.Unlock()
	b.err = err
	close(b.done)
	if trim {
		if _, err := w.r.st.TrimAttempts(context.Background(), w.keep); err != nil {
			w.r.log.Error("trimming the attempt history", "err", err)
		}
	}
}

// write writes one group in one transaction: the attempts, the states
// checked against the claims' versions, and, for those refused (the API
// wrote the job since its claim), a merge with the job as it is now.
func (w *replicaWriter) write(items []replicaItem) error {
	ctx := context.Background()
	return w.r.st.InTx(ctx, func(tx store.Tx) error {
		atts := make([]store.Attempt, len(items))
		var states []store.JobState
		var sched []replicaWrite
		for i, it := range items {
			atts[i] = it.att
			if !it.w.manual {
				states = append(states, it.w.state)
				sched = append(sched, it.w)
			}
		}
		if err := tx.AddAttempts(ctx, atts); err != nil {
			return fmt.Errorf("recording %d attempts: %w", len(atts), err)
		}
		refused, err := tx.UpdateJobStates(ctx, states)
		if err != nil {
			return fmt.Errorf("writing %d jobs: %w", len(states), err)
		}
		for _, i := range refused {
			if err := w.merge(ctx, tx, sched[i]); err != nil {
				return fmt.Errorf("job %s: %w", sched[i].name, err)
			}
		}
		for _, it := range items {
			if it.w.manual {
				if err := w.result(ctx, tx, it.w); err != nil {
					return fmt.Errorf("job %s: %w", it.w.name, err)
				}
			}
		}
		return nil
	})
}

// merge writes the outcome of a scheduled execution over the job as the
// API wrote it since the claim (mergeState), unless the execution is no
// longer this replica's: the job is gone or another incarnation, or its
// execution was taken over (this replica's heartbeat lapsed) or ended.
// A job paused since ends its execution: no retry.
//
// (Two claims of one execution by this replica with the same attempt count
// need two lapses of its heartbeat during one attempt; a token per claim
// in the store would tell even those apart.)
func (w *replicaWriter) merge(ctx context.Context, tx store.Tx, rw replicaWrite) error {
	for try := 0; try < maxWriteTries; try++ {
		fresh, err := tx.GetJob(ctx, rw.name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		ex := fresh.Exec
		if fresh.Incarnation != rw.incarnation || ex == nil || !ex.ScheduleTime.Equal(rw.execTime) || ex.Owner != w.r.name || ex.Attempts != rw.claimed {
			return nil
		}
		// The API keeps the stored next slot unless it changed when the
		// job fires (schedule, time zone, state), so its NextFire is
		// right either way: after a pause and a resume it is the first
		// slot after the resume, not one inside the pause.
		st := mergeState(snap{st: rw.state, key: rw.key, enabled: true}, fresh)
		st.NextFire = fresh.NextFire
		if st.Exec == nil {
			st.DueTime, st.ScheduleTime = fresh.NextFire, fresh.NextFire
		}
		if fresh.Job.GetState() != schedulerpb.Job_ENABLED {
			st.Exec, st.DueTime, st.ScheduleTime = nil, fresh.NextFire, fresh.NextFire
		}
		refused, err := tx.UpdateJobStates(ctx, []store.JobState{st})
		if err != nil || len(refused) == 0 {
			return err
		}
	}
	return fmt.Errorf("%w after %d tries", store.ErrVersionMismatch, maxWriteTries)
}

// result writes a manual execution's outcome as the job's status and
// last_attempt_time, leaving the rest of its state as stored.
func (w *replicaWriter) result(ctx context.Context, tx store.Tx, rw replicaWrite) error {
	for try := 0; try < maxWriteTries; try++ {
		fresh, err := tx.GetJob(ctx, rw.name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if fresh.Incarnation != rw.incarnation {
			return nil
		}
		st := store.JobState{Name: rw.name, Version: fresh.Version, NextFire: fresh.NextFire, DueTime: fresh.DueTime,
			Exec: fresh.Exec, ScheduleTime: tsTime(fresh.Job.GetScheduleTime()), Result: rw.result}
		refused, err := tx.UpdateJobStates(ctx, []store.JobState{st})
		if err != nil || len(refused) == 0 {
			return err
		}
	}
	return fmt.Errorf("%w after %d tries", store.ErrVersionMismatch, maxWriteTries)
}

// flush returns once everything pending when it was called is written.
func (w *replicaWriter) flush(ctx context.Context) error {
	w.mu.Lock()
	var wait []*flushBatch
	if w.writing != nil {
		wait = append(wait, w.writing)
	}
	if len(w.pending) > 0 {
		wait = append(wait, w.batch)
	}
	w.mu.Unlock()
	w.kick()
	var err error
	for _, b := range wait {
		select {
		case <-b.done:
			err = errors.Join(err, b.err)
		case <-w.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

// stop writes what is pending (one try) and ends the writer.
func (w *replicaWriter) stop() {
	w.mu.Lock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	close(w.quit)
	<-w.done
}
