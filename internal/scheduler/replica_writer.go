package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/grpc/codes"

	"github.com/oidcron/oidcron/internal/store"
)

// replicaWrite is what one finished attempt of a Replica writes besides the
// attempt itself: the job's new state (a scheduled execution), or the
// job's result and the execution's own row (a manual one).
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
	// claim is the token of this replica's claim (store.Execution.Claim):
	// it tells this claim from a later one of the same execution by this
	// replica, even one with the same attempt count (its heartbeat lapsed,
	// another took the execution over and lapsed too before its outcome
	// was written, and this replica took it back).
	claim int64
	// claimed is the execution's attempt count when this replica claimed
	// it: redundant with claim for claims that set a token, it still tells
	// the claims apart when a replica older than the token wrote one (its
	// writes leave the stored token as it was).
	claimed int32
	// A manual execution's result, the write of its row, and when its
	// retry is due (zero: none).
	manual bool
	result *store.JobResult
	mw     store.ManualWrite
	due    time.Time
	// last: the attempt ends the execution (no retry follows).
	last bool
}

type replicaItem struct {
	w   replicaWrite
	att store.Attempt
	// alone counts the writes of this outcome by itself that failed while
	// the store answered (storeAnswers): its own fault, not the store's.
	alone int
	// stripped: the outcome given up, all but what ends or releases the
	// execution: the job's state without the attempt's result, and no
	// attempt row (giveUp).
	stripped bool
}

// giveUpAfter is how many times an outcome's write must fail by itself,
// the store answering meanwhile, before the writer gives it up. One
// outcome the store refuses for good (a message it cannot encode, say)
// must not hold back the others, nor be tried for ever.
const giveUpAfter = 3

// replicaWriter group-commits a Replica's outcomes: everything that
// accumulated while the previous transaction ran, in transactions of at
// most maxBatch attempts.
type replicaWriter struct {
	r    *Replica
	keep int
	// ctx is the writes' context: Stop cancels it when it stops waiting
	// for them.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	pending []replicaItem
	batch   *flushBatch // closed once the pending items are written
	writing *flushBatch
	inWrite []replicaItem // what the round under way took from pending
	untrim  int
	wait    time.Duration // backoff after a failed write
	timer   interface{ Stop() bool }
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
	stopped chan struct{} // closed once Stop no longer waits for the writer
}

func newReplicaWriter(r *Replica, keep int) replicaWriter {
	ctx, cancel := context.WithCancel(context.Background())
	return replicaWriter{r: r, keep: keep, batch: newBatch(), ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}), stopped: make(chan struct{})}
}

func (w *replicaWriter) add(rw replicaWrite, att store.Attempt) {
	w.mu.Lock()
	w.pending = append(w.pending, replicaItem{w: rw, att: att})
	if over := len(w.pending) - maxPendingAttempts; over > 0 {
		// The store has refused writes for long: keep the newest. The
		// dropped executions stay this replica's in the store, unsent:
		// releaseUnknown gives them back once the store answers.
		for _, it := range w.pending[:over] {
			w.let(it, false)
		}
		w.r.reconcile.Store(true)
		w.pending = append(w.pending[:0], w.pending[over:]...)
		w.r.m.droppedAtts.Add(float64(over))
	}
	w.mu.Unlock()
	w.kick()
}

// let takes an outcome out of the replica's hands, written or not: the
// execution's claim is settled in the store (or, unwritten, left there for
// releaseUnknown); a manual execution whose last outcome this is, written,
// has ended.
func (w *replicaWriter) let(it replicaItem, written bool) {
	if !it.w.manual {
		w.r.hold(it.w.name, -1)
		return
	}
	w.r.holdManual(it.w.mw.ID, -1)
	if it.w.last && written {
		w.signalDone(it)
	}
}

func (w *replicaWriter) signalDone(it replicaItem) {
	signal(w.r.sig.ExecutionDone, ExecutionDone{Job: it.att.Job, ScheduleTime: it.att.ScheduleTime, Manual: it.att.Manual,
		Attempts: it.att.Number, Code: codes.Code(it.att.Code)})
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

// writeRound is one pass of writePending over what was pending.
type writeRound struct {
	retry   []replicaItem // not written: pending again
	written int
	// dueSoon: a written state is due before the claim loop's next poll
	// (an ended execution's next slot overdue, a retry's backoff short).
	dueSoon bool
	err     error // the first failed write's
	// probed: a write failed and the store was asked for a heartbeat;
	// up: it answered.
	probed, up bool
}

// writePending writes everything pending. A failed transaction is split
// in halves, down to single outcomes, while the store answers: the
// outcomes it takes are written, one it refuses is tried again, and given
// up once it has failed by itself giveUpAfter times. What is not written
// is tried again on the clock, waiting twice as long each time (up to
// maxRetryWrite).
func (w *replicaWriter) writePending() {
	w.mu.Lock()
	items := w.pending
	w.pending = nil
	b := w.batch
	w.batch = newBatch()
	w.writing = b
	w.inWrite = items
	w.mu.Unlock()

	var rd writeRound
	for len(items) > 0 {
		n := min(len(items), maxBatch)
		w.writeGroup(items[:n], &rd)
		items = items[n:]
	}
	w.mu.Lock()
	w.writing, w.inWrite = nil, nil
	if len(rd.retry) > 0 {
		w.pending = append(rd.retry, w.pending...)
		w.wait = min(max(2*w.wait, retryWrite), maxRetryWrite)
		w.r.log.Error("writing attempts and job states; trying again", "pending", len(w.pending), "err", rd.err, "wait", w.wait)
		if w.timer != nil {
			w.timer.Stop()
		}
		select {
		case <-w.quit: // Stop's round: no more
		default:
			w.timer = w.r.clk.AfterFunc(w.wait, w.kick)
		}
	} else {
		w.wait = 0
	}
	if rd.dueSoon {
		// Ended executions free their jobs' next slots, which may be
		// overdue: the claim loop looks now rather than at its next poll.
		// Only then: with several replicas a needless claim is a round
		// trip to the database for nothing, and the poll finds the rest.
		w.r.kick()
	}
	w.untrim += rd.written
	trim := w.untrim >= trimEveryDefault
	if trim {
		w.untrim = 0
	}
	w.mu.Unlock()
	b.err = rd.err
	close(b.done)
	// After the retry's timer is armed: a test may move the clock to it.
	signal(w.r.sig.Flushed, struct{}{})
	if trim {
		ctx, cancel := context.WithTimeout(w.ctx, w.r.storeTimeout)
		defer cancel()
		if _, err := w.r.st.TrimAttempts(ctx, w.keep); err != nil {
			w.r.log.Error("trimming the attempt history", "err", err)
		}
	}
}

// writeGroup writes items in one transaction; when it fails and the store
// answers otherwise, it writes each half of them alone, so that one
// outcome the store refuses fails only itself.
func (w *replicaWriter) writeGroup(items []replicaItem, rd *writeRound) {
	if rd.probed && !rd.up {
		// The store is down: a try per outcome would only multiply the
		// failures.
		rd.retry = append(rd.retry, items...)
		return
	}
	res, err := w.write(items)
	if err == nil {
		soon := w.r.clk.Now().Add(w.r.poll)
		for i, it := range items {
			if it.w.manual {
				w.let(it, true) // signals the end of a manual execution
				if due := it.w.due; !due.IsZero() {
					w.r.manualRetryAt(due)
					rd.dueSoon = rd.dueSoon || due.Before(soon)
				}
			} else {
				w.r.hold(it.w.name, -1) // the claim is settled in the store
				if due := res[i].due; !due.IsZero() && due.Before(soon) {
					rd.dueSoon = true
				}
				if res[i].ended {
					w.signalDone(it)
				}
			}
		}
		rd.written += len(items)
		return
	}
	w.r.m.writeErrs.Inc()
	if rd.err == nil {
		rd.err = err
	}
	if !w.storeAnswers(rd) {
		rd.retry = append(rd.retry, items...)
		return
	}
	if len(items) > 1 {
		h := len(items) / 2
		w.writeGroup(items[:h], rd)
		w.writeGroup(items[h:], rd)
		return
	}
	it := items[0]
	if errors.Is(err, store.ErrVersionMismatch) {
		// Contention (the API writing the job faster than the merge
		// reads it), not a refusal: the outcome is not at fault.
		rd.retry = append(rd.retry, it)
		return
	}
	if it.alone++; it.alone < giveUpAfter {
		rd.retry = append(rd.retry, it)
		return
	}
	if it.w.manual || it.stripped {
		w.giveUp(it, err)
		return
	}
	// What the store refuses is most likely the attempt's row or its
	// result (text it cannot hold): the execution's end or release as
	// decided is still written, so that the attempt is not sent again.
	// Tried at once: in Stop's last round there is no other.
	w.dropAttempt(it, err)
	it.w.state.Result, it.stripped, it.alone = nil, true, 0
	w.writeGroup([]replicaItem{it}, rd)
}

// dropAttempt logs and counts an attempt whose record is given up.
func (w *replicaWriter) dropAttempt(it replicaItem, err error) {
	w.r.m.droppedAtts.Inc()
	w.r.log.Error("giving up recording an attempt: the store refused its outcome by itself repeatedly",
		"replica", w.r.name, "job", it.w.name, "scheduleTime", FormatScheduleTime(it.att.ScheduleTime),
		"attempt", it.att.Number, "manual", it.w.manual, "tries", it.alone, "err", err)
}

// storeAnswers tells whether the store takes a heartbeat, asked once per
// round after a failed write: a store that does not is down or hung, and
// the failure is not the outcomes' own.
func (w *replicaWriter) storeAnswers(rd *writeRound) bool {
	if !rd.probed {
		rd.probed = true
		if w.ctx.Err() == nil { // never a heartbeat once Stop gave up on the writes
			ctx, cancel := context.WithTimeout(w.ctx, w.r.lease/3)
			rd.up = w.r.heartbeat(ctx) == nil
			cancel()
		}
	}
	return rd.up
}

// giveUp drops an outcome the store keeps refusing by itself: a manual
// one (its attempt not recorded), or a scheduled one already stripped to
// its state. A scheduled execution is not lost: its claim stays this
// replica's in the store, where releaseUnknown finds it and releases it,
// due at once, and its attempt is made again with the same schedule time
// (at least once).
func (w *replicaWriter) giveUp(it replicaItem, err error) {
	if it.stripped {
		w.r.log.Error("giving up writing an execution's state: the store refused it by itself repeatedly; the execution is released and sent again",
			"replica", w.r.name, "job", it.w.name, "scheduleTime", FormatScheduleTime(it.att.ScheduleTime), "err", err)
	} else {
		w.dropAttempt(it, err)
	}
	w.let(it, false)
	// After let: releaseUnknown skips the executions this replica holds.
	w.r.reconcile.Store(true)
	w.r.kick()
}

// write writes one group in one transaction: the attempts, the states
// checked against the claims' versions, and, for those refused (the API
// wrote the job since its claim), a merge with the job as it is now.
// Per item, res tells what the write did to a scheduled execution.
func (w *replicaWriter) write(items []replicaItem) (res []replicaWritten, err error) {
	ctx, cancel := context.WithTimeout(w.ctx, w.r.storeTimeout)
	defer cancel()
	err = w.r.st.InTx(ctx, func(tx store.Tx) error {
		res = make([]replicaWritten, len(items)) // fn may be run again
		atts := make([]store.Attempt, 0, len(items))
		var states []store.JobState
		var sched []int // the items of states
		for i, it := range items {
			if !it.stripped {
				atts = append(atts, it.att)
			}
			if !it.w.manual {
				states = append(states, it.w.state)
				sched = append(sched, i)
			}
		}
		if len(atts) > 0 {
			if err := tx.AddAttempts(ctx, atts); err != nil {
				return fmt.Errorf("recording %d attempts: %w", len(atts), err)
			}
		}
		refused, err := tx.UpdateJobStates(ctx, states)
		if err != nil {
			return fmt.Errorf("writing %d jobs: %w", len(states), err)
		}
		for _, i := range sched {
			st := items[i].w.state
			res[i] = replicaWritten{ended: st.Exec == nil, due: st.DueTime}
		}
		for _, k := range refused {
			rw := items[sched[k]].w
			if res[sched[k]], err = w.merge(ctx, tx, rw); err != nil {
				return fmt.Errorf("job %s: %w", rw.name, err)
			}
		}
		var (
			mws    []store.ManualWrite
			manual []int // the items of mws
		)
		for i, it := range items {
			if it.w.manual {
				mws = append(mws, it.w.mw)
				manual = append(manual, i)
			}
		}
		// A write refused is of an execution no longer this claim's
		// (another replica took it over, or its job was deleted): what
		// follows is the new claim's, or nothing, and the late outcome
		// does not become the job's status either (only its attempt is
		// recorded), as a scheduled execution's late outcome does not.
		refused, err = tx.UpdateManuals(ctx, mws)
		if err != nil {
			return fmt.Errorf("writing %d manual executions: %w", len(mws), err)
		}
		r := 0
		for k, i := range manual {
			if r < len(refused) && refused[r] == k {
				r++
				continue
			}
			if err := w.result(ctx, tx, items[i].w); err != nil {
				return fmt.Errorf("job %s: %w", items[i].w.name, err)
			}
		}
		return nil
	})
	return res, err
}

// replicaWritten is what a write did to a scheduled execution's job:
// whether it ended the execution, and the due time it wrote (zero: none,
// or nothing written).
type replicaWritten struct {
	ended bool
	due   time.Time
}

// merge writes the outcome of a scheduled execution over the job as the
// API wrote it since the claim (mergeState), unless the execution is no
// longer this replica's: the job is gone or another incarnation, or its
// execution was taken over (this replica's heartbeat lapsed) or ended.
// A job paused since ends its execution: no retry. ended: it wrote the
// end of the execution.
//
// The execution is this replica's claim only if the stored token is the
// claim's: owner, schedule time and attempt count are the same for two
// claims of one execution by this replica when its heartbeat lapsed twice
// during one attempt.
func (w *replicaWriter) merge(ctx context.Context, tx store.Tx, rw replicaWrite) (replicaWritten, error) {
	for try := 0; try < maxWriteTries; try++ {
		fresh, err := tx.GetJob(ctx, rw.name)
		if errors.Is(err, store.ErrNotFound) {
			return replicaWritten{}, nil
		} else if err != nil {
			return replicaWritten{}, err
		}
		ex := fresh.Exec
		if fresh.Incarnation != rw.incarnation || ex == nil || !ex.ScheduleTime.Equal(rw.execTime) || ex.Owner != w.r.name ||
			ex.Claim != rw.claim || ex.Attempts != rw.claimed {
			return replicaWritten{}, nil
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
		if err != nil {
			return replicaWritten{}, err
		}
		if len(refused) == 0 {
			return replicaWritten{ended: st.Exec == nil, due: st.DueTime}, nil
		}
	}
	return replicaWritten{}, fmt.Errorf("%w after %d tries", store.ErrVersionMismatch, maxWriteTries)
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

// flush returns once everything pending when it was called is written,
// or with the error of a write that failed, or of a stop that left
// outcomes unwritten.
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
		case <-w.stopped:
			return w.unwrittenErr()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

// unwritten returns how many outcomes are pending or in a write that has
// not returned, and the names of their jobs (at most limit).
func (w *replicaWriter) unwritten(limit int) (n int, jobs []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[string]bool{}
	for _, l := range [][]replicaItem{w.inWrite, w.pending} {
		for _, it := range l {
			if len(jobs) < limit && !seen[it.w.name] {
				seen[it.w.name] = true
				jobs = append(jobs, it.w.name)
			}
		}
		n += len(l)
	}
	return n, jobs
}

func (w *replicaWriter) unwrittenErr() error {
	n, _ := w.unwritten(0)
	return errUnwritten(n)
}

func errUnwritten(n int) error {
	if n == 0 {
		return nil
	}
	return fmt.Errorf("scheduler: the replica stopped with %d attempt outcomes not written", n)
}

// stop writes what is pending (one round) and ends the writer, waiting for
// it until deadline (wall time). Past it, the writes are cancelled and the
// writer is left behind: a hung store may never return them. It returns
// how many outcomes are not known written, and some of their jobs.
func (w *replicaWriter) stop(deadline time.Time) (unwritten int, jobs []string) {
	w.mu.Lock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	close(w.quit)
	t := time.NewTimer(time.Until(deadline))
	select {
	case <-w.done:
	case <-t.C:
	}
	t.Stop()
	w.cancel()
	close(w.stopped)
	return w.unwritten(10)
}
