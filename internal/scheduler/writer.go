package scheduler

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/oidcron/oidcron/internal/store"
	"time"
)

// txStore is a store that runs several writes as one transaction.
type txStore interface {
	InTx(ctx context.Context, fn func(tx store.Tx) error) error
}

var errNoJobTx = errors.New("scheduler: the store's Tx has no job methods")

// snap is the engine's state of one job at the moment a batch was taken.
type snap struct {
	j            *jobState
	name         string
	job          *schedulerpb.Job // base: the API's message as the engine last read it
	version      int64
	key          string
	enabled      bool
	nextFire     time.Time
	dueTime      time.Time
	exec         *store.Execution
	status       *statuspb.Status
	lastAttempt  time.Time
	scheduleTime time.Time
}

// written is the outcome of one job's write.
type written struct {
	j       *jobState
	version int64
	job     *schedulerpb.Job // the row's Job after the write; nil if the job is gone
}

func (e *Engine) snapLocked(j *jobState) snap {
	s := snap{j: j, name: j.name, job: j.job, version: j.version, key: j.key, enabled: j.enabled,
		nextFire: j.nextFire, dueTime: j.dueTime, status: j.status,
		lastAttempt: j.lastAttempt, scheduleTime: j.scheduleTime}
	if ex := j.exec; ex != nil {
		s.exec = &store.Execution{ScheduleTime: ex.scheduleTime, Attempts: ex.attempts,
			FirstAttempt: ex.first, NextAttempt: ex.next}
	}
	return s
}

// writer group-commits the engine's writes: it wakes when something is
// pending and writes everything that accumulated meanwhile (see maxBatch).
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
		e.flush()
		// A trim ranks the whole history, so it runs once per trimEvery
		// attempts or once per attempt of every job, whichever is more:
		// the history exceeds the retention by at most about one attempt
		// per job, and a burst of 100,000 jobs does not rank a growing
		// history 25 times.
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

// flush writes everything pending, in transactions of at most maxBatch jobs
// and maxBatch attempts. Each sealed segment's batch is done as soon as its
// transaction is committed; the last batch (the one Flush and Changed wait
// for) is done when everything taken here is written.
func (e *Engine) flush() {
	e.mu.Lock()
	if len(e.dirty) == 0 && len(e.attempts) == 0 {
		e.mu.Unlock()
		return
	}
	segs := append(e.sealed, segment{b: e.batch, end: len(e.dirty)})
	e.sealed = nil
	e.batch = newBatch()
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
	e.mu.Unlock()

	ctx := context.Background()
	var firstErr error
	var failed []snap
	for i, sg := range segs {
		snaps := parts[i]
		var segErr error
		// The last segment also takes every attempt left.
		for len(snaps) > 0 || (i == len(segs)-1 && len(atts) > 0) {
			ns, na := min(len(snaps), maxBatch), min(len(atts), maxBatch)
			res, err := e.write(ctx, snaps[:ns], atts[:na])
			e.mu.Lock()
			for _, w := range res {
				if w.job == nil || w.j.deleted || w.version <= w.j.version {
					continue
				}
				w.j.version = w.version
				w.j.job = w.job
			}
			e.mu.Unlock()
			if err != nil {
				e.m.writeErrs.Inc()
				e.log.Error("writing job state and attempts", "jobs", ns, "attempts", na, "err", err)
				failed = append(failed, snaps[:ns]...)
				if segErr == nil {
					segErr = err
				}
				if firstErr == nil {
					firstErr = err
				}
			} else {
				e.untrim += na
			}
			snaps, atts = snaps[ns:], atts[na:]
		}
		if sg.b != last {
			sg.b.err = segErr
			close(sg.b.done)
		}
	}
	e.mu.Lock()
	// Failed jobs are written again with the next batch (without waking
	// the writer, so that a broken store is not hammered in a loop). Failed
	// attempts are lost, and logged above.
	for _, s := range failed {
		if !s.j.dirty && !s.j.deleted {
			s.j.dirty = true
			e.dirty = append(e.dirty, s.j)
		}
	}
	e.writing = nil
	e.mu.Unlock()
	last.err = firstErr
	close(last.done)
	signal(e.sig.Flushed, struct{}{})
}

// write writes one batch, in one transaction when the store offers one.
func (e *Engine) write(ctx context.Context, snaps []snap, atts []store.Attempt) ([]written, error) {
	var res []written
	if ts, ok := e.js.(txStore); ok {
		err := ts.InTx(ctx, func(tx store.Tx) error {
			js, ok := tx.(store.JobStore)
			if !ok {
				return errNoJobTx
			}
			res = res[:0] // fn may be run again
			return writeAll(ctx, js, snaps, atts, &res)
		})
		if !errors.Is(err, errNoJobTx) {
			return res, err
		}
		res = res[:0]
	}
	err := writeAll(ctx, e.js, snaps, atts, &res)
	return res, err
}

func writeAll(ctx context.Context, js store.JobStore, snaps []snap, atts []store.Attempt, res *[]written) error {
	if len(atts) > 0 {
		if err := js.AddAttempts(ctx, atts); err != nil {
			return fmt.Errorf("recording %d attempts: %w", len(atts), err)
		}
	}
	// The jobs whose version the engine knows are written with one
	// UpdateJobs (one statement prepared for the batch); a job the API wrote
	// meanwhile (or deleted) refuses the batch before anything of it is
	// written, and is then written alone by writeOne, which re-reads it.
	fast := make([]snap, 0, len(snaps))
	for _, s := range snaps {
		if s.version == 0 {
			w, err := writeOne(ctx, js, s)
			if err != nil {
				return fmt.Errorf("job %s: %w", s.name, err)
			}
			*res = append(*res, w)
			continue
		}
		fast = append(fast, s)
	}
	recs := make([]store.JobRecord, len(fast))
	for i, s := range fast {
		recs[i] = merge(s, s.job, s.version, nil)
	}
	for len(fast) > 0 {
		err := js.UpdateJobs(ctx, recs)
		n := len(fast)
		var be *store.BatchError
		switch {
		case err == nil:
		case errors.As(err, &be) && be.Index >= 0 && be.Index < n &&
			(errors.Is(err, store.ErrVersionMismatch) || errors.Is(err, store.ErrNotFound)):
			n = be.Index
			if n > 0 {
				if err := js.UpdateJobs(ctx, recs[:n]); err != nil {
					return fmt.Errorf("writing %d jobs: %w", n, err)
				}
			}
		default:
			return fmt.Errorf("writing %d jobs: %w", n, err)
		}
		for i, s := range fast[:n] {
			*res = append(*res, written{j: s.j, version: s.version + 1, job: recs[i].Job})
		}
		if n == len(fast) {
			break
		}
		s := fast[n]
		w, err := writeOne(ctx, js, s)
		if err != nil {
			return fmt.Errorf("job %s: %w", s.name, err)
		}
		*res = append(*res, w)
		fast, recs = fast[n+1:], recs[n+1:]
	}
	return nil
}

// writeOne writes the engine's fields of one job with optimistic
// concurrency: against the version the engine last saw, and when the API
// wrote meanwhile, again against a fresh read, keeping the API's fields.
func writeOne(ctx context.Context, js store.JobStore, s snap) (written, error) {
	base, ver := s.job, s.version
	var fresh *store.JobRecord
	if ver == 0 {
		// Version 0 would mean "no check": read first instead.
		r, err := js.GetJob(ctx, s.name)
		if errors.Is(err, store.ErrNotFound) {
			return written{j: s.j}, nil
		} else if err != nil {
			return written{}, err
		}
		fresh, base, ver = &r, r.Job, r.Version
	}
	for try := 0; try < maxWriteTries; try++ {
		rec := merge(s, base, ver, fresh)
		err := js.UpdateJob(ctx, rec, ver)
		switch {
		case err == nil:
			return written{j: s.j, version: ver + 1, job: rec.Job}, nil
		case errors.Is(err, store.ErrNotFound):
			return written{j: s.j}, nil // deleted by the API; Changed will tell
		case !errors.Is(err, store.ErrVersionMismatch):
			return written{}, err
		}
		r, err := js.GetJob(ctx, s.name)
		if errors.Is(err, store.ErrNotFound) {
			return written{j: s.j}, nil
		} else if err != nil {
			return written{}, err
		}
		fresh, base, ver = &r, r.Job, r.Version
	}
	return written{}, fmt.Errorf("%w after %d tries", store.ErrVersionMismatch, maxWriteTries)
}

// merge lays the engine's fields over the API's message base. Exec, status
// and the attempt times are always the engine's. NextFire, DueTime and
// schedule_time are the engine's unless the API changed the schedule, time
// zone or state since the engine computed them (then they are the API's until
// Changed recomputes them), except that an execution in flight keeps DueTime
// on its next attempt.
func merge(s snap, base *schedulerpb.Job, ver int64, fresh *store.JobRecord) store.JobRecord {
	job := shallowCopy(base)
	job.Status = s.status
	job.LastAttemptTime = timestamp(s.lastAttempt)
	rec := store.JobRecord{Job: job, Version: ver, Exec: s.exec, NextFire: s.nextFire, DueTime: s.dueTime}
	job.ScheduleTime = timestamp(s.scheduleTime)
	if fresh != nil && (scheduleKey(fresh.Job) != s.key || (fresh.Job.GetState() == schedulerpb.Job_ENABLED) != s.enabled) {
		rec.NextFire = fresh.NextFire
		job.ScheduleTime = fresh.Job.GetScheduleTime()
		if s.exec == nil {
			rec.DueTime = fresh.DueTime
		}
	}
	return rec
}

// shallowCopy returns a new Job with base's fields: the fields merge sets
// are replaced, the others (the target, its headers and body, the retry
// config) are shared with base. Messages the engine holds are never
// modified in place, so sharing them is safe, and a burst writes every job
// twice: a deep proto.Clone per write was a visible part of its CPU.
func shallowCopy(base *schedulerpb.Job) *schedulerpb.Job {
	job := &schedulerpb.Job{}
	if base == nil {
		return job
	}
	src, dst := base.ProtoReflect(), job.ProtoReflect()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dst.Set(fd, v)
		return true
	})
	if u := src.GetUnknown(); len(u) > 0 {
		dst.SetUnknown(u)
	}
	return job
}
