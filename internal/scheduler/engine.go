// Package scheduler is Cloud Scheduler's dispatch engine: it keeps every job's
// next due time in a min-heap, arms one timer on an injected clock for the
// earliest, claims each slot in the store before sending, sends the HTTP
// attempts through a bounded pool of dispatchers, retries as Google does, and
// records every attempt in batched store writes.
//
// The API's side of the contract: write the job (its NextFire may be left
// zero: the engine computes it), then call Changed(name), which returns once
// the engine's resulting state is stored; RunJob calls RunNow. The engine
// owns Exec, NextFire, DueTime and the output fields status,
// last_attempt_time and schedule_time; it writes them with the row's Version
// and, when the API wrote meanwhile, re-reads and keeps the API's fields.
//
// Where Google documents nothing, the engine chooses (each choice is named
// where it is made):
//   - A slot missed while the server was down, or passed while the previous
//     execution still ran, fires once, late, as the latest slot not after
//     now; the earlier slots are skipped and counted (metric and log),
//     never backfilled. A resumed job's next slot is computed from the
//     resume: the slots of the pause are not fired.
//   - Retries continue past the next slot; that slot is then delayed until
//     the execution ends (executions of one job never overlap).
//   - A retry's backoff counts from the end of the failed attempt; no jitter.
//   - Pausing a job stops the retries of its execution in flight after the
//     attempt under way; deleting it drops them too.
//   - RunJob starts a manual execution at once, even while a scheduled one
//     runs and even when the job is paused; its schedule time (and header)
//     is the instant of the call; it does not change the job's
//     schedule_time, retries like any execution, and is kept in memory only
//     (a crash during it does not re-send it).
//   - While an execution runs, schedule_time shows its next retry, or the
//     next slot when no retry is pending.
package scheduler

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"github.com/prometheus/client_golang/prometheus"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/store"
)

// Config configures an Engine.
type Config struct {
	// Store holds the jobs (store.Store once JobStore is part of store.Tx).
	// When it also has InTx and its Tx implements store.JobStore, each batch
	// of writes is one transaction.
	Store store.JobStore
	// Clock is the only source of time; nil is the wall clock.
	Clock clock.Clock
	// Sender makes the attempts; normally a *Dispatcher.
	Sender Sender
	// Parse parses schedules; nil is ParseCron.
	Parse ParseFunc
	// Workers bounds the attempts in flight at once; default 128.
	Workers int
	// Logger receives one AttemptFinished line per attempt; nil discards.
	Logger *slog.Logger
	// Registerer receives the engine's metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Retention is how many attempts per job the history keeps; default 100.
	Retention int
	// Signals, when set, receive the engine's events (tests).
	Signals *TestSignals
}

const (
	defaultWorkers   = 128
	defaultRetention = 100
	// scanPage is the page size of the load at Start: large enough that a
	// million jobs take a thousand queries, small enough that one page is a
	// few MB of Job messages.
	scanPage = 1000
	// maxBatch bounds one write transaction. Writes are group-committed: the
	// writer takes everything that accumulated while the previous commit
	// ran, so batches grow with load and a lone write waits for no timer.
	// Past a few hundred rows a SQLite commit is already amortized (one WAL
	// sync per batch), and a bounded batch holds the write lock for a few
	// milliseconds at most, so API writes never queue behind a long one.
	maxBatch = 512
	// trimEveryDefault is the least number of attempts recorded between two
	// TrimAttempts (with more jobs than this, one per job): the history may
	// exceed the retention by this many rows for a while, in exchange for
	// not scanning it on every batch.
	trimEveryDefault = 4096
	// maxWriteTries bounds the re-reads of one job whose row the API keeps
	// changing under a batch.
	maxWriteTries = 5
)

// Engine dispatches the jobs of a store. Create it with New, then Start.
type Engine struct {
	js      store.JobStore
	clk     clock.Clock
	send    Sender
	parse   ParseFunc
	workers int
	keep    int
	// trimEvery is trimEveryDefault; tests lower it.
	trimEvery int
	log       *slog.Logger
	m         *metrics
	sig       TestSignals

	runCtx    context.Context
	cancelRun context.CancelFunc
	wg        sync.WaitGroup
	wake      chan struct{}
	quit      chan struct{}
	wrDone    chan struct{}

	mu       sync.Mutex
	cond     *sync.Cond // workers wait on it for ready executions
	jobs     map[string]*jobState
	queue    dueQueue
	ready    []*execState
	timer    clock.Timer
	timerAt  time.Time
	timerGen uint64
	started  bool
	stopping bool
	// Pending writes, taken whole by the writer.
	dirty    []*jobState
	attempts []store.Attempt
	batch    *flushBatch
	// sealed are the full segments of dirty, each with the batch that
	// writes it: a burst marks thousands of claims at once, and the first
	// attempts wait only for their own segment's transaction, not for
	// every claim of the burst (see markDirtyLocked).
	sealed  []segment
	writing *flushBatch // the batch being written, if any
	untrim  int
	// parsed caches parseJob's results by scheduleKey during Start only.
	parsed map[string]parseResult
}

type parseResult struct {
	s   Schedule
	err error
}

// jobState is the engine's view of one job. Job is the API's message as last
// read (never modified in place: workers read it without the lock); the
// other fields are the engine's own and win over the stored ones.
type jobState struct {
	name    string
	job     *schedulerpb.Job
	version int64
	key     string // scheduleKey that sched and nextFire come from
	enabled bool   // the state the engine acts on
	sched   Schedule

	nextFire     time.Time
	dueTime      time.Time
	exec         *execState // the scheduled execution in flight (persisted)
	status       *statuspb.Status
	lastAttempt  time.Time
	scheduleTime time.Time

	slot    *item
	dirty   bool
	deleted bool
}

// execState is an execution: a claimed slot, a recovered one, or a RunJob.
type execState struct {
	j            *jobState
	manual       bool
	recovered    bool
	scheduleTime time.Time
	attempts     int32
	first        time.Time
	next         time.Time
	item         *item
	claim        *flushBatch // the write of the claim; the first attempt waits for it
	lastCode     codes.Code
}

// segment is e.dirty[previous segment's end:end], written by b.
type segment struct {
	b   *flushBatch
	end int
}

type flushBatch struct {
	done chan struct{}
	err  error
}

func newBatch() *flushBatch { return &flushBatch{done: make(chan struct{})} }

// New returns an engine; it does nothing until Start.
func New(cfg Config) *Engine {
	e := &Engine{
		js:        cfg.Store,
		clk:       cfg.Clock,
		send:      cfg.Sender,
		parse:     cfg.Parse,
		workers:   cfg.Workers,
		keep:      cfg.Retention,
		trimEvery: trimEveryDefault,
		log:       cfg.Logger,
		m:         newMetrics(cfg.Registerer),
		jobs:      make(map[string]*jobState),
		batch:     newBatch(),
		wake:      make(chan struct{}, 1),
		quit:      make(chan struct{}),
		wrDone:    make(chan struct{}),
	}
	if e.clk == nil {
		e.clk = clock.Real{}
	}
	if e.parse == nil {
		e.parse = ParseCron
	}
	if e.workers <= 0 {
		e.workers = defaultWorkers
	}
	if e.keep <= 0 {
		e.keep = defaultRetention
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Signals != nil {
		e.sig = *cfg.Signals
	}
	e.cond = sync.NewCond(&e.mu)
	e.runCtx, e.cancelRun = context.WithCancel(context.Background())
	return e
}

// Start loads every job, recovers the executions in flight at the last stop
// or crash, and starts dispatching. It returns once the queue is armed.
func (e *Engine) Start(ctx context.Context) error {
	if e.js == nil || e.send == nil {
		return errors.New("scheduler: Config needs Store and Sender")
	}
	// The pages are kept as read, not appended into one slice: a million
	// records copied at every doubling was a visible part of the start.
	var pages [][]store.JobRecord
	after := ""
	for {
		page, err := e.js.ScanJobs(ctx, store.Page{Size: scanPage, After: after})
		if err != nil {
			return fmt.Errorf("scheduler: loading jobs: %w", err)
		}
		pages = append(pages, page)
		if len(page) < scanPage {
			break
		}
		after = page[len(page)-1].Job.GetName()
	}

	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return errors.New("scheduler: already started")
	}
	e.started = true
	now := e.clk.Now()
	// Most jobs share a few schedules: each distinct schedule and time
	// zone is parsed once for the load (a parsed Schedule is only used
	// under e.mu, so jobs can share it).
	e.parsed = make(map[string]parseResult)
	for i, page := range pages {
		for _, rec := range page {
			if e.jobs[rec.Job.GetName()] != nil {
				// Changed read it after the scan: its copy is the newer one.
				continue
			}
			j := &jobState{name: rec.Job.GetName()}
			e.jobs[j.name] = j
			e.loadLocked(j, rec, now)
		}
		pages[i] = nil
	}
	e.parsed = nil
	for i := 0; i < e.workers; i++ {
		e.wg.Add(1)
		go e.worker()
	}
	go e.writer()
	e.scheduleLocked()
	e.mu.Unlock()
	e.kick()
	return nil
}

// loadLocked takes a job as stored at Start: the stored engine state is the
// truth, an execution in flight resumes with its schedule time, and a
// NextFire in the past fires once (catch-up) when the queue runs.
func (e *Engine) loadLocked(j *jobState, rec store.JobRecord, now time.Time) {
	j.job, j.version = rec.Job, rec.Version
	j.nextFire, j.dueTime = rec.NextFire, rec.DueTime
	j.status = rec.Job.GetStatus()
	j.lastAttempt = tsTime(rec.Job.GetLastAttemptTime())
	j.scheduleTime = tsTime(rec.Job.GetScheduleTime())
	j.key = scheduleKey(rec.Job)
	j.enabled = rec.Job.GetState() == schedulerpb.Job_ENABLED
	j.sched = e.parseJob(j)

	if x := rec.Exec; x != nil {
		if j.enabled && !x.Manual {
			ex := &execState{j: j, recovered: true, scheduleTime: x.ScheduleTime,
				attempts: x.Attempts, first: x.FirstAttempt, next: x.NextAttempt}
			if ex.next.IsZero() || ex.next.Before(now) {
				// The attempt in flight at the crash (or a retry that came
				// due while down) is tried again at once.
				ex.next = now
			}
			j.exec = ex
			e.queueExecLocked(ex)
			signal(e.sig.Fired, Fire{Job: j.name, ScheduleTime: ex.scheduleTime, Recovered: true})
		} else {
			// A paused job stops retrying; a manual execution is not resumed.
			j.dueTime = time.Time{}
			e.markDirtyLocked(j)
		}
	}
	e.reconcileSlotLocked(j, now, j.nextFire.IsZero())
}

// parseJob parses j's schedule; a schedule that does not parse (the API
// validates, so only an old record or a grammar change) never fires.
func (e *Engine) parseJob(j *jobState) Schedule {
	var s Schedule
	var err error
	if r, ok := e.parsed[j.key]; ok && e.parsed != nil {
		s, err = r.s, r.err
	} else {
		s, err = e.parse(j.job.GetSchedule(), j.job.GetTimeZone())
		if e.parsed != nil {
			e.parsed[j.key] = parseResult{s, err}
		}
	}
	if err != nil {
		e.log.Error("job schedule does not parse; it will not fire", "job", j.name, "schedule", j.job.GetSchedule(), "timeZone", j.job.GetTimeZone(), "err", err)
		return nil
	}
	return s
}

// reconcileSlotLocked puts j's next slot in the queue or takes it out, per
// its state. recompute asks for NextFire from now (new job, new schedule,
// resumed job): a resumed job does not fire the slots of its pause.
func (e *Engine) reconcileSlotLocked(j *jobState, now time.Time, recompute bool) {
	if !j.enabled || j.sched == nil || j.deleted {
		e.unqueueSlotLocked(j)
		if !j.nextFire.IsZero() && !j.deleted {
			j.nextFire = time.Time{}
			if j.exec == nil {
				j.dueTime = time.Time{}
			}
			e.markDirtyLocked(j)
		}
		return
	}
	if recompute {
		j.nextFire = j.sched.Next(now)
		if j.exec == nil {
			j.dueTime = j.nextFire
			j.scheduleTime = j.nextFire
		}
		e.markDirtyLocked(j)
	}
	if j.exec != nil || j.nextFire.IsZero() {
		// The slot waits for the execution to end (no overlap).
		e.unqueueSlotLocked(j)
		return
	}
	if j.slot != nil {
		j.slot.at = j.nextFire
		heap.Fix(&e.queue, j.slot.idx)
		return
	}
	j.slot = &item{at: j.nextFire, j: j}
	heap.Push(&e.queue, j.slot)
}

func (e *Engine) unqueueSlotLocked(j *jobState) {
	if j.slot != nil {
		heap.Remove(&e.queue, j.slot.idx)
		j.slot = nil
	}
}

func (e *Engine) queueExecLocked(ex *execState) {
	ex.item = &item{at: ex.next, j: ex.j, ex: ex}
	heap.Push(&e.queue, ex.item)
}

// Changed re-reads the job named name after the API wrote it (create,
// update, pause, resume, delete) and applies the change: a new or changed
// schedule or time zone, or a resume, computes the next slot from now; a
// pause or delete takes it out of the queue, and a pause ends an execution
// waiting for a retry. It returns once the resulting engine state (NextFire,
// schedule_time) is in the store, so that the API's next read shows it.
func (e *Engine) Changed(name string) {
	rec, err := e.js.GetJob(context.Background(), name)
	e.mu.Lock()
	ended := e.changedLocked(name, rec, err)
	var wait *flushBatch
	if j := e.jobs[name]; j != nil && j.dirty && e.started && !e.stopping {
		wait = e.batch
	}
	e.mu.Unlock()
	if ended != nil {
		e.signalDone(ended)
	}
	if wait != nil {
		select {
		case <-wait.done:
		case <-e.wrDone:
		}
	}
}

func (e *Engine) changedLocked(name string, rec store.JobRecord, err error) (ended *execState) {
	j := e.jobs[name]
	if errors.Is(err, store.ErrNotFound) {
		if j != nil {
			j.deleted = true
			e.unqueueSlotLocked(j)
			if j.exec != nil && j.exec.item != nil {
				heap.Remove(&e.queue, j.exec.item.idx)
				j.exec.item = nil
			}
			delete(e.jobs, name)
			e.scheduleLocked()
		}
		return nil
	}
	if err != nil {
		e.log.Error("re-reading a changed job", "job", name, "err", err)
		return nil
	}
	now := e.clk.Now()
	if j == nil {
		j = &jobState{name: name}
		e.jobs[name] = j
		e.loadLocked(j, rec, now)
		e.scheduleLocked()
		return nil
	}
	if rec.Version < j.version {
		// The engine wrote after this read; its copy already has the API's
		// change (a write that met a newer version re-read the row).
		rec.Job, rec.Version = j.job, j.version
	}
	j.job, j.version = rec.Job, rec.Version
	key := scheduleKey(rec.Job)
	changed := key != j.key
	if changed {
		j.key = key
		j.sched = e.parseJob(j)
	}
	was := j.enabled
	j.enabled = rec.Job.GetState() == schedulerpb.Job_ENABLED
	if ex := j.exec; !j.enabled && ex != nil && ex.item != nil {
		// Paused while waiting for a retry: no more attempts. (An attempt
		// under way ends the execution when it returns.)
		heap.Remove(&e.queue, ex.item.idx)
		ex.item = nil
		e.endExecLocked(ex)
		ended = ex
	}
	e.reconcileSlotLocked(j, now, j.enabled && (changed || !was || j.nextFire.IsZero()))
	e.scheduleLocked()
	return ended
}

// RunNow is RunJob: it starts a manual execution of the job at once, even
// while another execution runs, and returns without waiting for it.
// store.ErrNotFound if there is no such job.
func (e *Engine) RunNow(ctx context.Context, name string) error {
	e.mu.Lock()
	j := e.jobs[name]
	e.mu.Unlock()
	if j == nil {
		// The API may not have told us yet.
		if _, err := e.js.GetJob(ctx, name); err != nil {
			return err
		}
		e.Changed(name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	j = e.jobs[name]
	if j == nil {
		return fmt.Errorf("scheduler: job %s: %w", name, store.ErrNotFound)
	}
	if e.stopping {
		return errors.New("scheduler: stopping")
	}
	ex := &execState{j: j, manual: true, scheduleTime: e.clk.Now()}
	e.ready = append(e.ready, ex)
	e.cond.Signal()
	e.m.fires.WithLabelValues("manual").Inc()
	signal(e.sig.Fired, Fire{Job: name, ScheduleTime: ex.scheduleTime, Manual: true})
	return nil
}

// scheduleLocked moves everything due by now from the queue to the ready
// list (claiming due slots) and arms the timer for the next due item. Items
// due now are handled here rather than by a zero-length timer, so that a
// fake clock need not move for them.
func (e *Engine) scheduleLocked() {
	if e.stopping || !e.started {
		return
	}
	now := e.clk.Now()
	for len(e.queue) > 0 && !e.queue[0].at.After(now) {
		it := heap.Pop(&e.queue).(*item)
		if it.ex != nil {
			it.ex.item = nil
			e.ready = append(e.ready, it.ex)
			e.cond.Signal()
			continue
		}
		it.j.slot = nil
		e.fireSlotLocked(it.j, now)
	}
	e.m.queueDepth.Set(float64(len(e.queue) + len(e.ready)))
	if len(e.queue) == 0 {
		e.stopTimerLocked()
		return
	}
	at := e.queue[0].at
	if e.timer != nil && e.timerAt.Equal(at) {
		return
	}
	e.stopTimerLocked()
	e.timerGen++
	gen := e.timerGen
	e.timerAt = at
	e.timer = e.clk.AfterFunc(at.Sub(now), func() { e.onTimer(gen) })
}

func (e *Engine) stopTimerLocked() {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
		e.timerAt = time.Time{}
	}
}

func (e *Engine) onTimer(gen uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if gen == e.timerGen {
		e.timer = nil
		e.timerAt = time.Time{}
	}
	e.scheduleLocked()
}

// fireSlotLocked claims j's due slot: it starts the execution, advances
// NextFire past now and marks the job for the write the first attempt waits
// for (the claim), so that a crash after the send re-sends the same
// execution instead of losing or doubling it.
func (e *Engine) fireSlotLocked(j *jobState, now time.Time) {
	if j.deleted || !j.enabled || j.sched == nil || j.exec != nil || j.nextFire.IsZero() {
		return
	}
	fire, skipped, next := catchUp(j.sched, j.nextFire, now)
	ex := &execState{j: j, scheduleTime: fire, next: now}
	j.exec = ex
	j.nextFire = next
	j.dueTime = now
	j.scheduleTime = next
	ex.claim = e.markDirtyLocked(j)
	e.ready = append(e.ready, ex)
	e.cond.Signal()
	e.m.fires.WithLabelValues("scheduled").Inc()
	if skipped > 0 {
		e.m.skipped.Add(float64(skipped))
		e.log.Warn("slots skipped: the job fires once for the latest missed slot",
			"job", j.name, "scheduleTime", FormatScheduleTime(fire), "skipped", skipped)
	}
	signal(e.sig.Fired, Fire{Job: j.name, ScheduleTime: fire, Skipped: skipped})
}

func (e *Engine) worker() {
	defer e.wg.Done()
	for {
		e.mu.Lock()
		for len(e.ready) == 0 && !e.stopping {
			e.cond.Wait()
		}
		if e.stopping {
			e.mu.Unlock()
			return
		}
		ex := e.ready[0]
		e.ready[0] = nil
		e.ready = e.ready[1:]
		e.m.queueDepth.Set(float64(len(e.queue) + len(e.ready)))
		e.mu.Unlock()
		e.attempt(ex)
	}
}

// attempt makes the next attempt of ex and decides what follows.
func (e *Engine) attempt(ex *execState) {
	if b := ex.claim; b != nil {
		<-b.done
		ex.claim = nil
		if b.err != nil {
			// The claim stays marked and is written with a later batch;
			// sending now keeps the slot on time, at the price of a
			// possible repeat if the server dies before that write.
			e.log.Error("claim not written before sending", "job", ex.j.name, "err", b.err)
		}
	}
	e.mu.Lock()
	j := ex.j
	if j.deleted || (!ex.manual && (j.exec != ex || !j.enabled)) {
		ended := !ex.manual && j.exec == ex && !j.deleted
		if ended {
			// Paused while queued: the execution ends without an attempt.
			e.endExecLocked(ex)
			e.scheduleLocked()
		}
		e.mu.Unlock()
		if ended {
			e.signalDone(ex)
		}
		return
	}
	job := j.job
	n := ex.attempts + 1
	start := e.clk.Now()
	if n == 1 {
		ex.first = start
	}
	e.mu.Unlock()

	out := e.send.Send(e.runCtx, job, ex.scheduleTime)
	end := e.clk.Now()
	if e.runCtx.Err() != nil && out.Code == codes.Canceled {
		// Interrupted by Stop: not a result. A scheduled execution stays in
		// the store and is tried again at the next Start.
		return
	}
	if n == 1 && !out.Sent.IsZero() && !ex.recovered {
		e.m.fireDelay.Observe(out.Sent.Sub(ex.scheduleTime).Seconds())
	}
	if n > 1 {
		e.m.retries.Inc()
	}
	e.m.attempts.WithLabelValues(codeName(out.Code)).Inc()
	att := store.Attempt{Job: j.name, ScheduleTime: ex.scheduleTime, Manual: ex.manual, Number: n,
		Start: start, End: end, URL: out.URL, HTTPStatus: out.HTTPStatus, Code: int32(out.Code), Message: out.Message}

	e.mu.Lock()
	ex.attempts = n
	ex.lastCode = out.Code
	var ended bool
	if !j.deleted {
		e.attempts = append(e.attempts, att)
		j.status = &statuspb.Status{Code: int32(out.Code)}
		if out.Code != codes.OK {
			j.status.Message = out.Message
		}
		j.lastAttempt = start
		var next time.Time
		if ex.manual || (j.enabled && j.exec == ex) {
			next = retryDecision(job.GetRetryConfig(), out.Code == codes.OK, n, ex.first, end)
		}
		if next.IsZero() {
			ended = true
			e.endExecLocked(ex)
		} else {
			ex.next = next
			e.queueExecLocked(ex)
			if !ex.manual {
				j.dueTime = next
				j.scheduleTime = next
			}
		}
		e.markDirtyLocked(j)
	} else {
		ended = true
	}
	e.scheduleLocked()
	e.mu.Unlock()

	e.logAttempt(att, out.Code)
	signal(e.sig.AttemptFinished, att)
	if ended {
		e.signalDone(ex)
	}
}

func (e *Engine) signalDone(ex *execState) {
	signal(e.sig.ExecutionDone, ExecutionDone{Job: ex.j.name, ScheduleTime: ex.scheduleTime, Manual: ex.manual, Attempts: ex.attempts, Code: ex.lastCode})
}

// endExecLocked ends ex; for the scheduled execution it frees the job for
// its next slot, which fires at once (once) if it came while ex ran.
func (e *Engine) endExecLocked(ex *execState) {
	if ex.manual {
		return
	}
	j := ex.j
	if j.exec != ex {
		return
	}
	j.exec = nil
	j.dueTime = j.nextFire
	j.scheduleTime = j.nextFire
	e.markDirtyLocked(j)
	e.reconcileSlotLocked(j, e.clk.Now(), false)
}

// markDirtyLocked records that j's state must be written and returns the
// batch that will write it.
func (e *Engine) markDirtyLocked(j *jobState) *flushBatch {
	b := e.batch
	if !j.dirty {
		j.dirty = true
		e.dirty = append(e.dirty, j)
		start := 0
		if n := len(e.sealed); n > 0 {
			start = e.sealed[n-1].end
		}
		if len(e.dirty)-start >= maxBatch {
			// The segment is full: it is written (and its batch done) as
			// one transaction, ahead of what is marked after it.
			e.sealed = append(e.sealed, segment{b: b, end: len(e.dirty)})
			e.batch = newBatch()
		}
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return b
}

func (e *Engine) kick() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Stop stops firing, waits for the attempts in flight (cancelling them when
// ctx ends first; a cancelled scheduled execution is resumed by the next
// Start), and writes what is pending.
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	if !e.started || e.stopping {
		e.mu.Unlock()
		return nil
	}
	e.stopping = true
	e.stopTimerLocked()
	e.cond.Broadcast()
	e.mu.Unlock()

	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		e.cancelRun()
		<-done
	}
	e.cancelRun()
	close(e.quit)
	<-e.wrDone
	return err
}

// Flush returns once every write pending when it was called (job state and
// attempts) has been made, or ctx ends. Reads that must see the engine's
// latest state (the history API, tests) call it first.
func (e *Engine) Flush(ctx context.Context) error {
	e.mu.Lock()
	var wait []*flushBatch
	if e.writing != nil {
		wait = append(wait, e.writing)
	}
	if len(e.dirty) > 0 || len(e.attempts) > 0 {
		wait = append(wait, e.batch)
	}
	started := e.started
	e.mu.Unlock()
	if !started {
		return nil // nothing is written before Start
	}
	e.kick()
	for _, b := range wait {
		select {
		case <-b.done:
		case <-e.wrDone: // stopped: the final flush has run
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Attempts returns a job's recorded attempts, newest first, after writing
// the pending ones (the history API's read).
func (e *Engine) Attempts(ctx context.Context, job string, limit int, before time.Time) ([]store.Attempt, error) {
	if err := e.Flush(ctx); err != nil {
		return nil, err
	}
	return e.js.ListAttempts(ctx, job, limit, before)
}

func (e *Engine) logAttempt(a store.Attempt, c codes.Code) {
	level := slog.LevelInfo
	if c != codes.OK {
		level = slog.LevelError
	}
	if !e.log.Enabled(context.Background(), level) {
		return // a burst need not build lines nobody keeps
	}
	project, location, jobID := splitJobName(a.Job)
	e.log.LogAttrs(context.Background(), level, "AttemptFinished",
		slog.String("logName", "projects/"+project+"/logs/cloudscheduler.googleapis.com%2Fexecutions"),
		slog.Group("resource",
			slog.String("type", "cloud_scheduler_job"),
			slog.Group("labels", slog.String("project_id", project), slog.String("location", location), slog.String("job_id", jobID))),
		slog.Group("jsonPayload",
			slog.String("@type", "type.googleapis.com/google.cloud.scheduler.logging.AttemptFinished"),
			slog.String("jobName", a.Job),
			slog.String("scheduledTime", FormatScheduleTime(a.ScheduleTime)),
			slog.String("targetType", "HTTP"),
			slog.String("url", a.URL),
			slog.String("status", codeName(c)),
			slog.String("debugInfo", a.Message)),
	)
}

func splitJobName(name string) (project, location, job string) {
	p := strings.Split(name, "/")
	if len(p) == 6 && p[0] == "projects" && p[2] == "locations" && p[4] == "jobs" {
		return p[1], p[3], p[5]
	}
	return "", "", name
}

// codeName is the google.rpc code's enum name ("PERMISSION_DENIED"), as
// Cloud Logging shows it.
func codeName(c codes.Code) string { return rpccode.Code(c).String() }

func tsTime(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
