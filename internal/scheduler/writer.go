package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"github.com/oidcron/oidcron/internal/store"
)

// txStore is a store that runs several writes as one transaction.
type txStore interface {
	InTx(ctx context.Context, fn func(tx store.Tx) error) error
}

var errNoJobTx = errors.New("scheduler: the store's Tx has no job methods")

// snap is the engine's state of one job at the moment a batch was taken.
type snap struct {
	j           *jobState
	st          store.JobState // what is written
	incarnation int64
	// What NextFire was computed from: when the API has changed either
	// since, its NextFire wins (see mergeState).
	key     schedKey
	enabled bool
}

// written is the outcome of one job's write.
type written struct {
	j       *jobState
	result  *store.JobResult // the result the write carried
	version int64            // the stored version after the write; 0 if not written
	gone    bool             // the job was deleted, or is another incarnation now
}

func (e *Engine) snapLocked(j *jobState) snap {
	s := snap{j: j, incarnation: j.incarnation, enabled: j.enabled,
		st: store.JobState{Name: j.name, Version: j.version, NextFire: j.nextFire, DueTime: j.dueTime(),
			ScheduleTime: j.scheduleTime(), Result: j.result, LastSlot: j.lastSlot}}
	if j.sched != nil {
		s.key = j.sched.key
	}
	if ex := j.exec; ex != nil {
		s.st.Exec = &store.Execution{ScheduleTime: ex.scheduleTime, Attempts: ex.attempts,
			FirstAttempt: ex.first, NextAttempt: ex.next}
	}
	return s
}

// writer group-commits the engine's writes: it wakes when something is
// pending and writes everything that accumulated meanwhile (see maxBatch).
// It also reads again the jobs whose change Changed could not read.
func (e *Engine) writer() {
	defer close(e.wrDone)
	trimmed := false
	for {
		select {
		case <-e.wake:
		case <-e.quit:
			e.flush()
			return
		}
		e.holdForOutcomes()
		e.flush()
		e.rereadStale()
		// A trim ranks the whole history, so it runs once per trimEvery
		// attempts or once per attempt of every job, whichever is more:
		// the store holds at most that many rows beyond the retention
		// (Attempts shows none of them), and a burst of 100,000 jobs does
		// not rank a growing history 25 times.
		e.mu.Lock()
		every := max(e.trimEvery, len(e.jobs))
		e.mu.Unlock()
		if !trimmed || e.untrim >= every {
			// untrim is only touched by this goroutine.
			trimmed = true
			e.untrim = 0
			if n, err := e.js.TrimAttempts(context.Background(), e.keep); err != nil {
				e.log.Error("trimming the attempt history", "err", err)
			} else if n > 0 {
				e.log.Debug("attempt history trimmed", "deleted", n)
			}
		}
	}
}

// holdForOutcomes lets the outcomes of attempts about to end join the
// next write, while holdLocked allows: under load the writer woke for every
// few outcomes, and each transaction's commit cost as much as a score of
// its rows. The wait is in real time, not on the engine's clock: it decides
// no schedule, only how writes are grouped, and a fake clock that never
// moves must not stall the writer.
func (e *Engine) holdForOutcomes() {
	var t *time.Timer
	for {
		e.mu.Lock()
		hold, wait := e.holdLocked(), e.holdMax
		e.mu.Unlock()
		if !hold {
			return
		}
		if t == nil {
			t = time.NewTimer(wait)
			defer t.Stop()
		}
		select {
		case <-e.wake: // more is pending, or someone waits: look again
		case <-t.C:
			return
		case <-e.quit:
			return
		}
	}
}

// holdLocked reports whether the writer may wait for more outcomes before
// writing what is pending: only while attempts are being sent (their
// outcomes will come), nothing waits for the write (a claim, Flush,
// Changed: prompt), no full segment is pending, no failed write is being
// retried, no re-read of a stale job is due, and fewer than holdBatch jobs
// and fewer than holdBatch attempts are pending. One slow target keeps
// attempts being sent, so the others' outcomes may each wait holdMax: a
// bound, and only a direct read of the store sees it (Flush and Changed end
// the hold).
func (e *Engine) holdLocked() bool {
	return e.sending > 0 && !e.prompt && !e.stopping && len(e.sealed) == 0 && e.writeWait == 0 && !e.staleDue &&
		len(e.dirty) < holdBatch && len(e.attempts) < holdBatch
}

// rereadStale reads again the jobs whose change could not be read and
// applies what it finds, at once when a job becomes stale and then when
// staleTimer fires: those it still cannot read are tried again after
// retryRead, then twice as long each time (up to maxRetryRead).
func (e *Engine) rereadStale() {
	e.mu.Lock()
	if len(e.stale) == 0 || !e.staleDue || e.stopping {
		e.mu.Unlock()
		return
	}
	e.staleDue = false
	names := make([]string, 0, len(e.stale))
	for n := range e.stale {
		names = append(names, n)
	}
	e.mu.Unlock()
	for _, name := range names {
		rec, err := e.js.GetJob(context.Background(), name)
		e.mu.Lock()
		ended := e.changedLocked(name, rec, err)
		e.mu.Unlock()
		for _, ex := range ended {
			e.signalDone(ex)
		}
		signal(e.sig.Reread, Reread{Job: name, Err: err})
	}
	e.mu.Lock()
	if len(e.stale) == 0 {
		e.staleWait = 0
	}
	if len(e.stale) > 0 && e.staleTimer == nil && !e.stopping {
		e.staleWait = min(max(2*e.staleWait, retryRead), maxRetryRead)
		e.staleTimer = e.clk.AfterFunc(e.staleWait, func() {
			e.mu.Lock()
			e.staleTimer = nil
			e.staleDue = true
			e.mu.Unlock()
			e.kick()
		})
	}
	e.mu.Unlock()
}

// flush writes everything pending, in transactions of at most maxBatch jobs
// and maxBatch attempts. Each sealed segment's batch is done as soon as its
// transaction is committed; the last batch (the one Flush and Changed wait
// for) is done when everything taken here is written.
func (e *Engine) flush() {
	e.mu.Lock()
	if len(e.dirty) == 0 && len(e.attempts) == 0 && len(e.manualWs) == 0 {
		e.prompt = false
		e.mu.Unlock()
		return
	}
	segs := append(e.sealed, segment{b: e.batch, end: len(e.dirty)})
	e.sealed = nil
	e.batch = newBatch()
	e.prompt = false
	last := segs[len(segs)-1].b
	e.writing = last
	parts := make([][]snap, len(segs))
	lo := 0
	for i, sg := range segs {
		ss := make([]snap, 0, sg.end-lo)
		for _, j := range e.dirty[lo:sg.end] {
			j.dirty = false
			if !j.deleted {
				ss = append(ss, e.snapLocked(j))
			}
		}
		parts[i], lo = ss, sg.end
	}
	e.dirty = nil
	atts := e.attempts
	e.attempts = nil
	mws := e.manualWs
	e.manualWs = nil
	e.mu.Unlock()
	// RunJob executions' attempts go with their progress (mws), in one
	// transaction: the store never shows the one without the other.
	var matts []store.Attempt
	n := 0
	for _, a := range atts {
		if a.Manual {
			matts = append(matts, a)
		} else {
			atts[n] = a
			n++
		}
	}
	atts = atts[:n]

	ctx := context.Background()
	var firstErr error
	var failed []snap
	var lost []store.Attempt        // attempts of failed batches, not in the store
	var lostMws []store.ManualWrite // manual executions' writes of failed batches
	for i, sg := range segs {
		snaps := parts[i]
		var segErr error
		// The last segment also takes every attempt left, and with its
		// last transaction the manual executions' writes (a few: RunJob is
		// a human's act) and their attempts.
		for len(snaps) > 0 || (i == len(segs)-1 && (len(atts) > 0 || len(mws) > 0 || len(matts) > 0)) {
			ns, na := min(len(snaps), maxBatch), min(len(atts), maxBatch)
			chunk := atts[:na:na]
			var ms []store.ManualWrite
			if i == len(segs)-1 && ns == len(snaps) && na == len(atts) {
				ms, mws = mws, nil
				chunk, matts = append(chunk, matts...), nil
			}
			res, attsDone, err := e.write(ctx, snaps[:ns], chunk, ms)
			e.applyWritten(res)
			if err != nil {
				e.m.writeErrs.Inc()
				e.log.Error("writing job state and attempts", "jobs", ns, "attempts", len(chunk), "manualExecutions", len(ms), "err", err)
				failed = append(failed, snaps[:ns]...)
				if !attsDone {
					lost = append(lost, chunk...)
					lostMws = append(lostMws, ms...)
				}
				if segErr == nil {
					segErr = err
				}
				if firstErr == nil {
					firstErr = err
				}
			} else {
				e.untrim += len(chunk)
			}
			snaps, atts = snaps[ns:], atts[na:]
		}
		if sg.b != last {
			sg.b.err = segErr
			close(sg.b.done)
		}
	}
	e.mu.Lock()
	// Failed jobs and attempts are written again with the next batch, which
	// the retry timer starts if no other work does (see retryWriteLocked).
	for _, s := range failed {
		if !s.j.dirty && !s.j.deleted {
			s.j.dirty = true
			e.dirty = append(e.dirty, s.j)
		}
	}
	if len(lost) > 0 {
		e.requeueAttemptsLocked(lost)
	}
	if len(lostMws) > 0 {
		// In front of those made since, which are later progress.
		e.manualWs = append(lostMws, e.manualWs...)
	}
	if firstErr != nil {
		e.retryWriteLocked()
	} else {
		e.writeWait = 0
	}
	e.writing = nil
	e.mu.Unlock()
	last.err = firstErr
	close(last.done)
	signal(e.sig.Flushed, struct{}{})
}

// requeueAttemptsLocked puts back the attempts of a failed write in front
// of those recorded since, in order. During a long outage the oldest beyond
// maxPendingAttempts are dropped (counted and logged), so that memory stays
// bounded.
func (e *Engine) requeueAttemptsLocked(lost []store.Attempt) {
	all := append(lost, e.attempts...)
	if drop := len(all) - maxPendingAttempts; drop > 0 {
		e.m.droppedAtts.Add(float64(drop))
		e.log.Error("dropping unwritten attempts: too many pending while the store fails",
			"dropped", drop, "oldest", all[0].Start, "pending", maxPendingAttempts)
		all = append([]store.Attempt(nil), all[drop:]...)
	}
	e.attempts = all
}

// retryWriteLocked wakes the writer again after a failed write, after
// retryWrite and then twice as long each time the write fails again (up
// to maxRetryWrite): what failed is written even if nothing else happens,
// without hammering a broken store.
func (e *Engine) retryWriteLocked() {
	if e.stopping || e.writeTimer != nil {
		return
	}
	e.writeWait = min(max(2*e.writeWait, retryWrite), maxRetryWrite)
	e.writeTimer = e.clk.AfterFunc(e.writeWait, func() {
		e.mu.Lock()
		e.writeTimer = nil
		e.mu.Unlock()
		e.kick()
	})
}

// applyWritten takes the versions of a batch's writes, and forgets the
// results they carried. A job found gone is read again (rereadStale), so
// that the engine applies the deletion or the new incarnation even if
// Changed never told it.
func (e *Engine) applyWritten(res []written) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, w := range res {
		j := w.j
		if j.deleted {
			continue
		}
		if w.gone {
			// Not to be fired, nor its execution sent with the message of
			// the job that was, until it is read again.
			j.stale = true
			e.unqueueSlotLocked(j)
			if _, ok := e.stale[j.name]; !ok {
				e.stale[j.name] = struct{}{}
				e.staleDue = true
			}
			continue
		}
		if w.version > j.version {
			j.version = w.version
		}
		if w.result != nil && j.result == w.result {
			j.result = nil
		}
	}
}

// write writes one batch, in one transaction when the store offers one.
// attsDone reports whether atts and mws are in the store, even if err is
// not nil (without a transaction, a later statement may fail after them).
func (e *Engine) write(ctx context.Context, snaps []snap, atts []store.Attempt, mws []store.ManualWrite) (res []written, attsDone bool, err error) {
	if ts, ok := e.js.(txStore); ok {
		err := ts.InTx(ctx, func(tx store.Tx) error {
			js, ok := tx.(store.JobStore)
			if !ok {
				return errNoJobTx
			}
			res = res[:0] // fn may be run again
			return writeAll(ctx, js, snaps, atts, mws, &res, new(bool))
		})
		if !errors.Is(err, errNoJobTx) {
			if err != nil {
				return nil, false, err // rolled back
			}
			return res, true, nil
		}
		res = res[:0]
	}
	err = writeAll(ctx, e.js, snaps, atts, mws, &res, &attsDone)
	return res, attsDone, err
}

func writeAll(ctx context.Context, js store.JobStore, snaps []snap, atts []store.Attempt, mws []store.ManualWrite, res *[]written, attsDone *bool) error {
	// The manual executions' writes first: without a transaction, a
	// failure after them has them made again, which changes nothing (a
	// state written again, a delete refused), where attempts would be
	// recorded twice.
	if len(mws) > 0 {
		// A write refused is of an execution whose job was deleted (the
		// rows went with it): nothing is left to write.
		if _, err := js.UpdateManuals(ctx, mws); err != nil {
			return fmt.Errorf("writing %d manual executions: %w", len(mws), err)
		}
	}
	if len(atts) > 0 {
		if err := js.AddAttempts(ctx, atts); err != nil {
			return fmt.Errorf("recording %d attempts: %w", len(atts), err)
		}
	}
	*attsDone = true
	if len(snaps) == 0 {
		return nil
	}
	// Every state with the version the engine knows, in one call; a job
	// the API wrote meanwhile (or deleted) is refused, and then written
	// alone by writeOne, which reads it again.
	states := make([]store.JobState, len(snaps))
	for i, s := range snaps {
		states[i] = s.st
	}
	refused, err := js.UpdateJobStates(ctx, states)
	if err != nil {
		return fmt.Errorf("writing %d jobs: %w", len(states), err)
	}
	r := 0
	for i, s := range snaps {
		if r < len(refused) && refused[r] == i {
			r++
			w, err := writeOne(ctx, js, s)
			if err != nil {
				return fmt.Errorf("job %s: %w", s.st.Name, err)
			}
			*res = append(*res, w)
			continue
		}
		*res = append(*res, written{j: s.j, result: s.st.Result, version: s.st.Version + 1})
	}
	return nil
}

// writeOne writes the engine's state of one job that the API wrote since
// the engine last saw it: against a fresh read, keeping what the API
// changed (mergeState). A job deleted, or created again under its name, is
// not written: the engine's state was of another job.
func writeOne(ctx context.Context, js store.JobStore, s snap) (written, error) {
	for try := 0; try < maxWriteTries; try++ {
		r, err := js.GetJob(ctx, s.st.Name)
		if errors.Is(err, store.ErrNotFound) {
			return written{j: s.j, gone: true}, nil
		} else if err != nil {
			return written{}, err
		}
		if r.Incarnation != s.incarnation {
			return written{j: s.j, gone: true}, nil
		}
		st := mergeState(s, r)
		refused, err := js.UpdateJobStates(ctx, []store.JobState{st})
		if err != nil {
			return written{}, err
		}
		if len(refused) == 0 {
			return written{j: s.j, result: st.Result, version: r.Version + 1}, nil
		}
	}
	return written{}, fmt.Errorf("%w after %d tries", store.ErrVersionMismatch, maxWriteTries)
}

// mergeState is the engine's state of s written over fresh, the job as the
// API last wrote it. Exec and the result are always the engine's.
// NextFire, DueTime and schedule_time are the engine's unless the API
// changed the schedule, time zone or state since the engine computed them
// (then they are the API's until Changed recomputes them), except that an
// execution in flight keeps DueTime on its next attempt.
func mergeState(s snap, fresh store.JobRecord) store.JobState {
	st := s.st
	st.Version = fresh.Version
	f := fresh.Job
	if (schedKey{f.GetSchedule(), f.GetTimeZone()}) != s.key || (f.GetState() == schedulerpb.Job_ENABLED) != s.enabled {
		st.NextFire = fresh.NextFire
		st.ScheduleTime = time.Time{}
		if ts := f.GetScheduleTime(); ts != nil {
			st.ScheduleTime = ts.AsTime()
		}
		if s.st.Exec == nil {
			st.DueTime = fresh.DueTime
		}
	}
	return st
}
