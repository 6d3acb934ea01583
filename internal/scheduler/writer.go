package scheduler

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

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
		if !trimmed || e.untrim >= e.trimEvery {
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
// and maxBatch attempts.
func (e *Engine) flush() {
	e.mu.Lock()
	if len(e.dirty) == 0 && len(e.attempts) == 0 {
		e.mu.Unlock()
		return
	}
	b := e.batch
	e.batch = newBatch()
	e.writing = b
	snaps := make([]snap, 0, len(e.dirty))
	for _, j := range e.dirty {
		j.dirty = false
		if !j.deleted {
			snaps = append(snaps, e.snapLocked(j))
		}
	}
	e.dirty = nil
	atts := e.attempts
	e.attempts = nil
	e.mu.Unlock()

	ctx := context.Background()
	var firstErr error
	var failed []snap
	for len(snaps) > 0 || len(atts) > 0 {
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
			if firstErr == nil {
				firstErr = err
			}
		} else {
			e.untrim += na
		}
		snaps, atts = snaps[ns:], atts[na:]
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
	b.err = firstErr
	close(b.done)
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
	for _, s := range snaps {
		w, err := writeOne(ctx, js, s)
		if err != nil {
			return fmt.Errorf("job %s: %w", s.name, err)
		}
		*res = append(*res, w)
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
	job := proto.Clone(base).(*schedulerpb.Job)
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
