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
// last_attempt_time and schedule_time; it writes them (store.JobState,
// without the Job message) with the row's Version and, when the API wrote
// meanwhile, re-reads and keeps the API's fields.
//
// Memory. The engine keeps of each job only what its queue needs: the name,
// the version and incarnation, the next fire time, the state bits and a
// parsed schedule shared by every job with the same schedule and time zone.
// A job's Job message is read from the store when an execution starts (the
// executions that start together have theirs read in one query, while the
// writer writes their claims: see loader) and dropped when its last
// execution ends.
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
//     runs and even when the job is paused; a slot that comes while it
//     runs waits for it, as for any execution; its schedule time (and header)
//     is the instant of the call; it does not change the job's
//     schedule_time, and retries like any execution. It is stored (a row of
//     its own, store.Manual) before its first attempt is sent, and rewritten
//     with each outcome in the batch that records the attempt: after a crash
//     its attempt in flight is sent again with the same schedule time, as a
//     scheduled execution's is.
//   - While an execution runs, schedule_time shows its next retry, or the
//     next slot when no retry is pending; a paused job shows none.
//   - A job whose change could not be read (Changed's read failed) is not
//     fired until a later read succeeds: the engine does not act on a job it
//     knows to have changed in a way it has not seen (a pause).
package scheduler

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
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
	// Store holds the jobs. When it also has InTx and its Tx implements
	// store.JobStore, each batch of writes is one transaction.
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
	// scanPage is the page size of the load at Start: a million jobs take
	// a hundred queries, and one page of heads is about a megabyte.
	scanPage = 10000
	// maxBatch bounds one write transaction. Writes are group-committed: the
	// writer takes everything that accumulated while the previous commit
	// ran, so batches grow with load and a lone write waits for no timer
	// (while attempts are being sent the writer may also hold briefly for
	// their outcomes: see holdLocked).
	// Past a few hundred rows a SQLite commit is already amortized (one WAL
	// sync per batch), and a bounded batch holds the write lock for a few
	// milliseconds at most, so API writes never queue behind a long one.
	maxBatch = 512
	// trimEveryDefault is the least number of attempts recorded between two
	// TrimAttempts (with more jobs than this, one per job): the store may
	// hold this many rows beyond the retention for a while, in exchange for
	// not ranking the whole history on every batch. Attempts (the history
	// API) shows only the retained ones.
	trimEveryDefault = 4096
	// maxWriteTries bounds the re-reads of one job whose row the API keeps
	// changing under a batch.
	maxWriteTries = 5
	// retryRead is how long the engine waits before reading again a job
	// whose read failed (a change it could not see, or the message of an
	// execution about to be sent). Re-reads of changes that keep failing
	// wait twice as long each time, up to maxRetryRead.
	retryRead    = time.Second
	maxRetryRead = time.Minute
	// retryWrite is how long the writer waits before writing again what a
	// failed write left pending, then twice as long each time, up to
	// maxRetryWrite.
	retryWrite    = time.Second
	maxRetryWrite = time.Minute
	// maxPendingAttempts bounds the attempts kept in memory while writes
	// fail; beyond it the oldest are dropped.
	maxPendingAttempts = 64 * maxBatch
	// holdMax and holdBatch bound the writer's wait for more outcomes
	// (holdLocked): at most holdMax of real time, and not once holdBatch
	// jobs or holdBatch attempts are pending.
	holdMax   = 2 * time.Millisecond
	holdBatch = maxBatch / 4
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
	scheds   map[schedKey]*schedule
	queue    dueQueue
	ready    []*execState
	timer    clock.Timer
	timerAt  time.Time
	timerGen uint64
	loading  bool
	started  bool
	stopping bool
	// Pending writes, taken whole by the writer: job states, attempts,
	// and the manual executions' progress (in the order it was made).
	dirty    []*jobState
	attempts []store.Attempt
	manualWs []store.ManualWrite
	batch    *flushBatch
	// sealed are the full segments of dirty, each with the batch that
	// writes it: a burst marks thousands of claims at once, and the first
	// attempts wait only for their own segment's transaction, not for
	// every claim of the burst (see markDirtyLocked).
	sealed  []segment
	writing *flushBatch // the batch being written, if any
	untrim  int
	// prompt: something waits for the pending write (a claim, Flush,
	// Changed), so the writer writes it at once; reset when a flush takes
	// the batch (or finds nothing pending). sending counts the attempts
	// being sent, whose outcomes the writer may hold for (holdLocked).
	// holdMax is the hold's bound; tests lengthen it.
	prompt  bool
	sending int
	holdMax time.Duration
	// stale are the jobs whose change could not be read; the writer reads
	// them again, at once and then after staleWait (staleTimer) until it
	// succeeds.
	stale      map[string]struct{}
	staleTimer clock.Timer
	staleWait  time.Duration // the wait before the next re-read; doubles while reads fail
	staleDue   bool          // a job became stale, or staleTimer fired: re-read now
	// writeTimer wakes the writer after a failed write (retryWriteLocked);
	// writeWait is its current backoff, 0 once a write succeeds.
	writeTimer clock.Timer
	writeWait  time.Duration
	// Executions whose job's message must be read before they send: the
	// group being filled, and the full ones waiting for the loader, which
	// reads each group's messages in one query while the writer writes
	// the claims (see loader).
	loadCur    *loadGroup
	loadQ      []*loadGroup
	loadWake   chan struct{}
	loaderQuit chan struct{}
	loaderDone chan struct{}
}

// loadGroup is a set of jobs whose messages the loader reads together;
// done is closed once it has (or has failed: the attempt then reads its
// own).
type loadGroup struct {
	jobs []*jobState
	done chan struct{}
}

// schedKey is a job's schedule and time zone, as stored.
type schedKey struct{ spec, zone string }

// schedule is one parsed schedule in its zone, shared by every job that has
// it (a million jobs typically have a few dozen). Parsed schedules are only
// used under Engine.mu.
type schedule struct {
	key  schedKey
	s    Schedule // nil when it does not parse: the job never fires
	refs int
}

// jobState is the engine's view of one job: no Job message but while an
// execution needs it (job), and the fields of its queue.
type jobState struct {
	name        string
	incarnation int64
	// version is the stored Version the engine last saw (read or wrote);
	// its next write expects it. specVersion is the Version of the record
	// whose schedule and state the engine acts on: a re-read older than it
	// is not applied again.
	version, specVersion int64
	sched                *schedule
	nextFire             time.Time
	lastSlot             time.Time  // the last slot fired (JobRecord.LastSlot): none at or before it fires again
	slot                 item       // the next slot in the queue (slot.idx < 0: not queued)
	exec                 *execState // the scheduled execution in flight (persisted)
	// manuals counts the RunJob executions in flight (each stored as a
	// store.Manual): like exec, they hold the next slot back until they
	// end.
	manuals int
	// job is the Job message as read at jobVersion, kept while executions
	// run (active of them) and nil otherwise. Never modified in place:
	// workers read it without the lock.
	job        *schedulerpb.Job
	jobVersion int64
	active     int32
	// result is the outcome of the last attempt, until it is written.
	result *store.JobResult

	enabled bool // the state the engine acts on
	dirty   bool
	deleted bool // deleted, or replaced by a new incarnation of its name
	stale   bool // a change could not be read: do not fire
}

// dueTime is when the engine must next act on the job: the next attempt of
// its execution in flight, else its next slot.
func (j *jobState) dueTime() time.Time {
	if j.exec != nil {
		return j.exec.next
	}
	return j.nextFire
}

// scheduleTime is the Job's schedule_time as the engine shows it: the
// next retry of the execution in flight while one waits in the queue, else
// the next slot (none while paused). A retry attempt under way is not
// next: its ex.next is its own start, already past.
func (j *jobState) scheduleTime() time.Time {
	if ex := j.exec; ex != nil && j.enabled && ex.attempts > 0 && ex.item.idx >= 0 {
		return ex.next
	}
	return j.nextFire
}

// execState is an execution: a claimed slot, a recovered one, or a RunJob.
type execState struct {
	j            *jobState
	manual       bool
	id           int64 // a manual execution's store.Manual.ID
	recovered    bool
	ended        bool
	scheduleTime time.Time
	attempts     int32
	first        time.Time
	next         time.Time
	item         item          // its next attempt in the queue (item.idx < 0: not queued)
	claim        *flushBatch   // the write of the claim; the first attempt waits for it
	load         *loadGroup    // the read of the job's message; the attempt waits for it
	readWait     time.Duration // the wait before reading the message again; doubles while reads fail
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
		js:         cfg.Store,
		clk:        cfg.Clock,
		send:       cfg.Sender,
		parse:      cfg.Parse,
		workers:    cfg.Workers,
		keep:       cfg.Retention,
		trimEvery:  trimEveryDefault,
		log:        cfg.Logger,
		m:          newMetrics(cfg.Registerer),
		jobs:       make(map[string]*jobState),
		scheds:     make(map[schedKey]*schedule),
		stale:      make(map[string]struct{}),
		batch:      newBatch(),
		holdMax:    holdMax,
		wake:       make(chan struct{}, 1),
		quit:       make(chan struct{}),
		wrDone:     make(chan struct{}),
		loadWake:   make(chan struct{}, 1),
		loaderQuit: make(chan struct{}),
		loaderDone: make(chan struct{}),
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

func newJobState(name string) *jobState {
	j := &jobState{name: name}
	j.slot = item{j: j, idx: -1}
	return j
}

func newExec(j *jobState) *execState {
	ex := &execState{j: j}
	ex.item = item{j: j, ex: ex, idx: -1}
	return ex
}

// Start loads every job (without its message), recovers the executions in
// flight at the last stop or crash, and starts dispatching. It returns once
// the queue is armed.
func (e *Engine) Start(ctx context.Context) error {
	if e.js == nil || e.send == nil {
		return errors.New("scheduler: Config needs Store and Sender")
	}
	e.mu.Lock()
	if e.started || e.loading {
		e.mu.Unlock()
		return errors.New("scheduler: already started")
	}
	e.loading = true
	e.mu.Unlock()
	now := e.clk.Now()
	// The RunJob executions in flight at the last stop or crash, by job:
	// each resumes with its job (loadLocked).
	stored, err := e.js.ListManuals(ctx)
	if err != nil {
		e.mu.Lock()
		e.loading = false
		e.mu.Unlock()
		return fmt.Errorf("scheduler: loading manual executions: %w", err)
	}
	manuals := make(map[string][]store.Manual)
	for _, m := range stored {
		manuals[m.Job] = append(manuals[m.Job], m)
	}
	// Page by page, so that only one page of heads is held at once.
	after := ""
	for {
		page, err := e.js.ScanJobHeads(ctx, store.Page{Size: scanPage, After: after})
		if err != nil {
			e.mu.Lock()
			e.loading = false
			e.mu.Unlock()
			return fmt.Errorf("scheduler: loading jobs: %w", err)
		}
		e.mu.Lock()
		for _, h := range page {
			if e.jobs[h.Name] != nil {
				// Changed read it after the scan: its copy is the newer one.
				continue
			}
			j := newJobState(h.Name)
			e.jobs[j.name] = j
			e.loadLocked(j, h, now, manuals[h.Name])
			delete(manuals, h.Name)
		}
		e.mu.Unlock()
		if len(page) < scanPage {
			break
		}
		after = page[len(page)-1].Name
	}

	e.mu.Lock()
	for _, ms := range manuals {
		// Their job is gone (DeleteJob takes them with it, so only a
		// store written otherwise has these): they end here.
		for _, m := range ms {
			e.manualWs = append(e.manualWs, store.ManualWrite{ID: m.ID, Claim: m.Exec.Claim})
		}
	}
	heap.Init(&e.queue)
	e.loading = false
	e.started = true
	for i := 0; i < e.workers; i++ {
		e.wg.Add(1)
		go e.worker()
	}
	go e.writer()
	go e.loader()
	e.scheduleLocked()
	e.mu.Unlock()
	e.kick()
	return nil
}

func headOf(r store.JobRecord) store.JobHead {
	return store.JobHead{Name: r.Job.GetName(), Version: r.Version, Incarnation: r.Incarnation,
		State: r.Job.GetState(), Schedule: r.Job.GetSchedule(), TimeZone: r.Job.GetTimeZone(),
		NextFire: r.NextFire, Exec: r.Exec, LastSlot: r.LastSlot}
}

// loadLocked takes a job as stored (at Start, or a job new to the engine):
// the stored engine state is the truth, an execution in flight resumes with
// its schedule time, and a NextFire in the past fires once (catch-up) when
// the queue runs. manuals are the job's stored RunJob executions (at
// Start): those of its incarnation resume too, whatever its state, as
// RunJob runs a paused job.
func (e *Engine) loadLocked(j *jobState, h store.JobHead, now time.Time, manuals []store.Manual) {
	j.incarnation, j.version, j.specVersion = h.Incarnation, h.Version, h.Version
	j.nextFire, j.lastSlot = h.NextFire, h.LastSlot
	j.enabled = h.State == schedulerpb.Job_ENABLED
	e.setScheduleLocked(j, schedKey{h.Schedule, h.TimeZone})

	if x := h.Exec; x != nil {
		if j.enabled && !x.Manual {
			ex := newExec(j)
			ex.recovered, ex.scheduleTime, ex.attempts, ex.first, ex.next = true, x.ScheduleTime, x.Attempts, x.FirstAttempt, x.NextAttempt
			if ex.next.IsZero() || ex.next.Before(now) {
				// The attempt in flight at the crash (or a retry that came
				// due while down) is tried again at once.
				ex.next = now
			}
			j.exec = ex
			j.active++
			e.needMessageLocked(ex)
			e.queueExecLocked(ex)
			signal(e.sig.Fired, Fire{Job: j.name, ScheduleTime: ex.scheduleTime, Recovered: true})
		} else {
			// A paused job stops retrying. (An Exec marked Manual is an
			// older version's: its RunJob executions were not stored, and
			// this one is not resumed.)
			e.markDirtyLocked(j)
		}
	}
	for _, m := range manuals {
		if m.Incarnation != j.incarnation {
			e.manualWs = append(e.manualWs, store.ManualWrite{ID: m.ID, Claim: m.Exec.Claim})
			continue
		}
		x := m.Exec
		ex := newExec(j)
		ex.manual, ex.recovered, ex.id = true, true, m.ID
		ex.scheduleTime, ex.attempts, ex.first, ex.next = x.ScheduleTime, x.Attempts, x.FirstAttempt, x.NextAttempt
		if ex.next.IsZero() || ex.next.Before(now) {
			// The attempt in flight at the crash (or a retry that came due
			// while down) is made again at once.
			ex.next = now
		}
		j.active++
		j.manuals++
		e.needMessageLocked(ex)
		e.queueExecLocked(ex)
		signal(e.sig.Fired, Fire{Job: j.name, ScheduleTime: ex.scheduleTime, Manual: true, Recovered: true})
	}
	e.reconcileSlotLocked(j, now, j.nextFire.IsZero())
}

// setScheduleLocked gives j the parsed schedule of k, parsing it if no
// other job has it, and reports whether it changed. A schedule that does
// not parse (the API validates, so only an old record or a grammar change)
// never fires.
func (e *Engine) setScheduleLocked(j *jobState, k schedKey) bool {
	if j.sched != nil && j.sched.key == k {
		return false
	}
	s := e.scheds[k]
	if s == nil {
		s = &schedule{key: k}
		var err error
		if s.s, err = e.parse(k.spec, k.zone); err != nil {
			s.s = nil
			e.log.Error("job schedule does not parse; it will not fire", "schedule", k.spec, "timeZone", k.zone, "err", err)
		}
		e.scheds[k] = s
	}
	if s.s == nil {
		e.log.Error("job schedule does not parse; it will not fire", "job", j.name, "schedule", k.spec, "timeZone", k.zone)
	}
	s.refs++
	e.releaseScheduleLocked(j)
	j.sched = s
	return true
}

func (e *Engine) releaseScheduleLocked(j *jobState) {
	if old := j.sched; old != nil {
		j.sched = nil
		if old.refs--; old.refs == 0 {
			delete(e.scheds, old.key)
		}
	}
}

func (j *jobState) parsed() Schedule {
	if j.sched == nil {
		return nil
	}
	return j.sched.s
}

// reconcileSlotLocked puts j's next slot in the queue or takes it out, per
// its state. recompute asks for NextFire from now (new job, new schedule,
// resumed job): a resumed job does not fire the slots of its pause.
func (e *Engine) reconcileSlotLocked(j *jobState, now time.Time, recompute bool) {
	s := j.parsed()
	if !j.enabled || s == nil || j.deleted {
		e.unqueueSlotLocked(j)
		if !j.nextFire.IsZero() && !j.deleted {
			j.nextFire = time.Time{}
			e.markDirtyLocked(j)
		}
		return
	}
	if recompute {
		// Never a slot already fired: a clock that stepped back must not
		// bring it back (the API floors its value the same way).
		j.nextFire = s.Next(store.Later(now, j.lastSlot))
		e.markDirtyLocked(j)
	}
	if j.exec != nil || j.manuals > 0 || j.nextFire.IsZero() || j.stale {
		// The slot waits for the executions to end (no overlap), or for
		// the job's change to be read.
		e.unqueueSlotLocked(j)
		return
	}
	switch {
	case e.loading && !e.started:
		// Start orders the queue once when every job is in (heap.Init):
		// a million pushes cost more than that.
		if j.slot.idx < 0 {
			j.slot.idx = len(e.queue)
			e.queue = append(e.queue, &j.slot)
		}
	case j.slot.idx >= 0:
		heap.Fix(&e.queue, j.slot.idx)
	default:
		heap.Push(&e.queue, &j.slot)
	}
}

func (e *Engine) unqueueSlotLocked(j *jobState) {
	if j.slot.idx >= 0 {
		heap.Remove(&e.queue, j.slot.idx)
	}
}

func (e *Engine) queueExecLocked(ex *execState) {
	heap.Push(&e.queue, &ex.item)
}

func (e *Engine) unqueueExecLocked(ex *execState) {
	if ex.item.idx >= 0 {
		heap.Remove(&e.queue, ex.item.idx)
	}
}

// dropLocked forgets j: its job was deleted, or replaced by a new
// incarnation of its name. Its execution waiting for a retry is dropped
// (and returned, to be signalled); an attempt under way finds j.deleted and
// records nothing.
func (e *Engine) dropLocked(j *jobState) (ended []*execState) {
	j.deleted = true
	e.unqueueSlotLocked(j)
	if ex := j.exec; ex != nil && ex.item.idx >= 0 {
		e.unqueueExecLocked(ex)
		e.endExecLocked(ex)
		ended = append(ended, ex)
	}
	if e.jobs[j.name] == j {
		delete(e.jobs, j.name)
	}
	e.releaseScheduleLocked(j)
	j.job, j.result = nil, nil
	return ended
}

// Changed re-reads the job named name after the API wrote it (create,
// update, pause, resume, delete) and applies the change: a new or changed
// schedule or time zone, or a resume, computes the next slot from now; a
// pause or delete takes it out of the queue, and a pause ends an execution
// waiting for a retry. It returns once the resulting engine state (NextFire,
// schedule_time) is in the store, so that the API's next read shows it.
//
// When the read fails, the job is not fired until it is read again: the
// writer reads it again at once, then after retryRead, backing off.
func (e *Engine) Changed(name string) {
	rec, err := e.js.GetJob(context.Background(), name)
	e.mu.Lock()
	ended := e.changedLocked(name, rec, err)
	var wait *flushBatch
	if j := e.jobs[name]; j != nil && j.dirty && e.started && !e.stopping {
		wait = e.batch
		e.prompt = true
		// The change may have marked nothing (j was dirty already): a
		// writer holding for outcomes must look again (holdLocked).
		e.kick()
	}
	e.mu.Unlock()
	for _, ex := range ended {
		e.signalDone(ex)
	}
	if wait != nil {
		select {
		case <-wait.done:
		case <-e.wrDone:
		}
	}
}

func (e *Engine) changedLocked(name string, rec store.JobRecord, err error) (ended []*execState) {
	j := e.jobs[name]
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		// The job changed in a way the engine cannot see: it stops firing
		// it until a read succeeds.
		e.log.Error("re-reading a changed job; it will not fire until read", "job", name, "err", err)
		if j != nil {
			j.stale = true
			e.unqueueSlotLocked(j)
		}
		if _, ok := e.stale[name]; !ok {
			e.stale[name] = struct{}{}
			e.staleDue = true
			e.kick()
		}
		return nil
	}
	delete(e.stale, name)
	if errors.Is(err, store.ErrNotFound) {
		if j != nil {
			ended = e.dropLocked(j)
			e.scheduleLocked()
		}
		return ended
	}
	now := e.clk.Now()
	if j != nil && rec.Incarnation != j.incarnation {
		// Deleted and created again under its name: another job.
		ended = e.dropLocked(j)
		j = nil
	}
	if j == nil {
		j = newJobState(name)
		e.jobs[name] = j
		e.loadLocked(j, headOf(rec), now, nil)
		if j.active > 0 {
			j.job, j.jobVersion = rec.Job, rec.Version
		}
		e.scheduleLocked()
		return ended
	}
	wasStale := j.stale
	j.stale = false
	j.version = max(j.version, rec.Version)
	if j.active > 0 && rec.Version > j.jobVersion {
		j.job, j.jobVersion = rec.Job, rec.Version
	}
	if rec.Version < j.specVersion {
		// An older read than one already applied (two API writes and their
		// re-reads crossed): nothing of it is news.
		if wasStale {
			e.reconcileSlotLocked(j, now, false)
			e.scheduleLocked()
		}
		return nil
	}
	j.specVersion = rec.Version
	changed := e.setScheduleLocked(j, schedKey{rec.Job.GetSchedule(), rec.Job.GetTimeZone()})
	was := j.enabled
	j.enabled = rec.Job.GetState() == schedulerpb.Job_ENABLED
	if ex := j.exec; !j.enabled && ex != nil && ex.item.idx >= 0 {
		// Paused while waiting for a retry: no more attempts. (An attempt
		// under way ends the execution when it returns.)
		e.unqueueExecLocked(ex)
		e.endExecLocked(ex)
		ended = append(ended, ex)
	}
	e.reconcileSlotLocked(j, now, j.enabled && (changed || !was || j.nextFire.IsZero()))
	e.scheduleLocked()
	return ended
}

// RunNow is RunJob: it starts a manual execution of the job at once, even
// while another execution runs, and returns without waiting for it, once
// the execution is stored (store.Manual). store.ErrNotFound if there is no
// such job.
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
	j = e.jobs[name]
	if j == nil {
		e.mu.Unlock()
		return fmt.Errorf("scheduler: job %s: %w", name, store.ErrNotFound)
	}
	if !e.started || e.stopping {
		// Before Start, the execution stored here would also be loaded by
		// Start's read of the stored ones, and run twice.
		e.mu.Unlock()
		return errors.New("scheduler: not running")
	}
	incarnation := j.incarnation
	at := e.clk.Now()
	e.mu.Unlock()
	// Stored before anything is sent: from here on a crash does not lose
	// it. A job deleted meanwhile takes the row with it (DeleteJob), or
	// refuses it (ErrNotFound).
	id, err := e.js.AddManual(ctx, store.Manual{Job: name, Incarnation: incarnation, Exec: store.Execution{ScheduleTime: at, Manual: true}})
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		// Stored: the next Start sends it.
		e.log.Warn("RunJob while stopping: the execution is stored and runs at the next start", "job", name)
		return nil
	}
	ex := newExec(j)
	ex.manual, ex.scheduleTime, ex.id = true, at, id
	j.active++
	j.manuals++
	e.reconcileSlotLocked(j, ex.scheduleTime, false) // the next slot waits for it
	e.needMessageLocked(ex)
	e.sealLoadLocked()
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
	for len(e.queue) > 0 && !e.queue[0].at().After(now) {
		it := heap.Pop(&e.queue).(*item)
		if it.ex != nil {
			// A retry whose message was let go or never read (a failed
			// read) has it read with the others due now.
			e.needMessageLocked(it.ex)
			e.ready = append(e.ready, it.ex)
			e.cond.Signal()
			continue
		}
		e.fireSlotLocked(it.j, now)
	}
	e.sealLoadLocked()
	e.m.queueDepth.Set(float64(len(e.queue) + len(e.ready)))
	if len(e.queue) == 0 {
		e.stopTimerLocked()
		return
	}
	at := e.queue[0].at()
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
	s := j.parsed()
	if j.deleted || !j.enabled || s == nil || j.exec != nil || j.manuals > 0 || j.nextFire.IsZero() || j.stale {
		// (A stale job's slot is queued again once the job is read.)
		return
	}
	if !j.nextFire.After(j.lastSlot) {
		// Fired already: NextFire was computed by a clock behind the one
		// that fired it (this process's, before it stepped back). The
		// first slot after the last one fired is next.
		j.nextFire = s.Next(j.lastSlot)
		e.markDirtyLocked(j)
		if j.nextFire.IsZero() || j.nextFire.After(now) {
			e.reconcileSlotLocked(j, now, false)
			return
		}
	}
	fire, skipped, next := catchUp(s, j.nextFire, now)
	j.lastSlot = fire // written with the claim (snapLocked)
	ex := newExec(j)
	ex.scheduleTime, ex.next = fire, now
	j.exec = ex
	j.active++
	j.nextFire = next
	ex.claim = e.markDirtyLocked(j)
	e.prompt = true // the send waits for the claim
	e.needMessageLocked(ex)
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

// messageLocked returns the Job message ex's attempt sends, reading it
// when neither the loader nor an earlier attempt has (a RunJob, a recovered
// execution, an execution whose batch read failed), with e.mu held on entry
// and on return. A read newer than the state the engine acts on is applied
// (as Changed would: it may pause or drop the job), so the caller checks ex
// again (heldLocked); ended are the executions that
// ended. ok false: the
// read failed and ex was queued again, after a wait that doubles with each
// failure (up to maxRetryRead), its message read with those then due.
func (e *Engine) messageLocked(ex *execState) (job *schedulerpb.Job, ended []*execState, ok bool) {
	j := ex.j
	if j.job != nil {
		return j.job, nil, true
	}
	e.mu.Unlock()
	rec, err := e.js.GetJob(e.runCtx, j.name)
	e.mu.Lock()
	switch {
	case err == nil && j.deleted:
	case err == nil && rec.Incarnation == j.incarnation:
		if j.job == nil || rec.Version > j.jobVersion {
			j.job, j.jobVersion = rec.Job, rec.Version
		}
		if rec.Version > j.specVersion {
			// The API changed the job (a pause, say) and its Changed has
			// not been applied yet, or came while ex was not queued.
			ended = e.changedLocked(j.name, rec, nil)
		}
	case err == nil || errors.Is(err, store.ErrNotFound):
		// Gone, or another job now: apply that, which drops j.
		ended = e.changedLocked(j.name, rec, err)
	}
	if j.job != nil || j.deleted {
		ex.readWait = 0
		return j.job, ended, true
	}
	ex.readWait = min(max(2*ex.readWait, retryRead), maxRetryRead)
	e.log.Error("reading a job to send it; trying again", "job", j.name, "err", err, "wait", ex.readWait)
	if e.runCtx.Err() == nil {
		// Tried again with the same schedule time.
		ex.next = e.clk.Now().Add(ex.readWait)
		e.queueExecLocked(ex)
		e.scheduleLocked()
		signal(e.sig.Held, Held{Job: j.name, ScheduleTime: ex.scheduleTime, Next: ex.next, Err: err})
	}
	return nil, ended, false
}

// heldLocked reports whether ex must not make an attempt now: its job is
// gone, or paused (or its scheduled execution is another), and ex ends
// (ended: it ended here and must be signalled); or a change of its job
// could not be read, and ex waits for it, queued again.
func (e *Engine) heldLocked(ex *execState) (held, ended bool) {
	j := ex.j
	if j.deleted || (!ex.manual && (j.exec != ex || !j.enabled)) {
		if !ex.ended {
			e.endExecLocked(ex)
			e.scheduleLocked()
			return true, true
		}
		return true, false
	}
	if j.stale && !ex.manual {
		// A change of the job could not be read: wait for it.
		ex.next = e.clk.Now().Add(retryRead)
		e.queueExecLocked(ex)
		e.scheduleLocked()
		signal(e.sig.Held, Held{Job: j.name, ScheduleTime: ex.scheduleTime, Next: ex.next})
		return true, false
	}
	return false, false
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
	if g := ex.load; g != nil {
		<-g.done
		ex.load = nil
	}
	e.mu.Lock()
	j := ex.j
	if held, ended := e.heldLocked(ex); held {
		e.mu.Unlock()
		if ended {
			e.signalDone(ex)
		}
		return
	}
	job, done, ok := e.messageLocked(ex)
	if ok {
		// The read may have applied a pause or a deletion, or Changed may
		// have while e.mu was released.
		held, end := e.heldLocked(ex)
		if end {
			done = append(done, ex)
		}
		if !held && !ex.manual && job.GetState() != schedulerpb.Job_ENABLED {
			// A guard: a scheduled execution never sends a job that is
			// not enabled.
			e.log.Warn("not sending a job that is not enabled", "job", j.name, "state", job.GetState().String())
			held = true
			if !ex.ended {
				e.endExecLocked(ex)
				e.scheduleLocked()
				done = append(done, ex)
			}
		}
		ok = !held
	}
	if !ok {
		e.mu.Unlock()
		for _, x := range done {
			e.signalDone(x)
		}
		return
	}
	n := ex.attempts + 1
	start := e.clk.Now()
	if n == 1 {
		ex.first = start
	}
	incarnation := j.incarnation
	e.sending++
	e.mu.Unlock()

	out := e.send.Send(e.runCtx, job, ex.scheduleTime)
	end := e.clk.Now()
	if e.runCtx.Err() != nil && out.Code == codes.Canceled {
		// Interrupted by Stop: not a result. The execution (scheduled or
		// RunJob) stays in the store and is tried again at the next Start.
		e.mu.Lock()
		e.sending--
		e.mu.Unlock()
		return
	}
	if n == 1 && !out.Sent.IsZero() && !ex.recovered {
		e.m.fireDelay.Observe(out.Sent.Sub(ex.scheduleTime).Seconds())
	}
	if n > 1 {
		e.m.retries.Inc()
	}
	e.m.attempts.WithLabelValues(codeName(out.Code)).Inc()
	att := store.Attempt{Job: j.name, Incarnation: incarnation, ScheduleTime: ex.scheduleTime, Manual: ex.manual, Number: n,
		Start: start, End: end, URL: out.URL, HTTPStatus: out.HTTPStatus, Code: int32(out.Code), Message: out.Message}

	e.mu.Lock()
	if e.sending--; e.sending == 0 {
		e.kick() // no outcome is coming: a writer holding for one writes now
	}
	ex.attempts = n
	ex.lastCode = out.Code
	var ended bool
	if !j.deleted {
		e.attempts = append(e.attempts, att)
		st := &statuspb.Status{Code: int32(out.Code)}
		if out.Code != codes.OK {
			st.Message = out.Message
		}
		j.result = &store.JobResult{Status: st, LastAttemptTime: start}
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
		}
		if ex.manual {
			// With the attempt's record, in its batch: the store never
			// shows the attempt without the execution's progress past it.
			w := store.ManualWrite{ID: ex.id}
			if !ended {
				w.Exec = &store.Execution{ScheduleTime: ex.scheduleTime, Manual: true, Attempts: n, FirstAttempt: ex.first, NextAttempt: next}
			}
			e.manualWs = append(e.manualWs, w)
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

// endExecLocked ends ex: the job's message goes with its last execution,
// and the end of the last execution in flight (scheduled or RunJob) frees
// the job for its next slot, which fires at once (once) if it came while
// they ran.
func (e *Engine) endExecLocked(ex *execState) {
	if ex.ended {
		return
	}
	ex.ended = true
	j := ex.j
	if j.active--; j.active <= 0 {
		j.active = 0
		j.job, j.jobVersion = nil, 0
	}
	if ex.manual {
		if j.manuals--; j.manuals == 0 && j.exec == nil && !j.deleted {
			e.reconcileSlotLocked(j, e.clk.Now(), false)
		}
		return
	}
	if j.exec != ex {
		return
	}
	j.exec = nil
	if j.deleted {
		return
	}
	e.markDirtyLocked(j)
	e.reconcileSlotLocked(j, e.clk.Now(), false)
}

// needMessageLocked arranges for the message of ex's job to be read before
// ex's attempt, with the other executions that start now (the loader reads
// a group in one query), unless the engine holds it already.
func (e *Engine) needMessageLocked(ex *execState) {
	if ex.j.job != nil || ex.load != nil || ex.j.deleted {
		return
	}
	g := e.loadCur
	if g == nil {
		g = &loadGroup{done: make(chan struct{})}
		e.loadCur = g
	}
	g.jobs = append(g.jobs, ex.j)
	ex.load = g
	if len(g.jobs) >= maxBatch {
		e.sealLoadLocked()
	}
}

// sealLoadLocked hands the group being filled to the loader.
func (e *Engine) sealLoadLocked() {
	if g := e.loadCur; g != nil {
		e.loadCur = nil
		e.loadQ = append(e.loadQ, g)
		select {
		case e.loadWake <- struct{}{}:
		default:
		}
	}
}

// loader reads the messages of the executions about to be sent, a group at
// a time, beside the writer: a burst's claims are written by one goroutine
// while their messages are read by another. It runs until the workers have
// stopped (so that none waits on a group forever).
func (e *Engine) loader() {
	defer close(e.loaderDone)
	ctx := context.Background()
	for {
		e.mu.Lock()
		if len(e.loadQ) == 0 {
			e.mu.Unlock()
			select {
			case <-e.loadWake:
				continue
			case <-e.loaderQuit:
				e.mu.Lock()
				for _, g := range e.loadQ {
					close(g.done)
				}
				e.loadQ = nil
				e.mu.Unlock()
				return
			}
		}
		g := e.loadQ[0]
		e.loadQ[0] = nil
		e.loadQ = e.loadQ[1:]
		names := make([]string, 0, len(g.jobs))
		for _, j := range g.jobs {
			if !j.deleted && j.active > 0 && j.job == nil {
				names = append(names, j.name)
			}
		}
		e.mu.Unlock()
		if len(names) > 0 {
			recs, err := e.js.GetJobs(ctx, names)
			if err != nil {
				e.log.Error("reading the jobs of a burst", "jobs", len(names), "err", err)
			}
			e.mu.Lock()
			for _, r := range recs {
				j := e.jobs[r.Job.GetName()]
				if j != nil && j.incarnation == r.Incarnation && j.active > 0 && (j.job == nil || r.Version > j.jobVersion) {
					j.job, j.jobVersion = r.Job, r.Version
				}
			}
			e.mu.Unlock()
		}
		close(g.done)
	}
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
	e.kick()
	return b
}

func (e *Engine) kick() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Stop stops firing, waits for the attempts in flight, and writes what is
// pending. Attempts still running when ctx ends are cancelled, which is no
// failure (Stop logs it and returns nil): their executions, scheduled or
// RunJob, stay in the store and the next Start resumes them, with the same
// ScheduleTime.
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	if !e.started || e.stopping {
		e.mu.Unlock()
		return nil
	}
	e.stopping = true
	e.stopTimerLocked()
	if e.staleTimer != nil {
		e.staleTimer.Stop()
		e.staleTimer = nil
	}
	if e.writeTimer != nil {
		e.writeTimer.Stop()
		e.writeTimer = nil
	}
	e.cond.Broadcast()
	e.mu.Unlock()
	e.kick() // a writer holding for outcomes writes at once (holdLocked)

	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.log.Warn("stopping: attempts still running at the shutdown deadline are cancelled; the next start sends their executions again",
			"cause", context.Cause(ctx))
		e.cancelRun()
		<-done
	}
	e.cancelRun()
	close(e.loaderQuit)
	<-e.loaderDone
	close(e.quit)
	<-e.wrDone
	return nil
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
	if len(e.dirty) > 0 || len(e.attempts) > 0 || len(e.manualWs) > 0 {
		wait = append(wait, e.batch)
		e.prompt = true
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
	return retained(ctx, e.js, e.keep, job, limit, before)
}

// retained is the history of job as Attempts shows it: of the newest keep
// attempts (the retention), newest first, those that started before before
// (unless zero), at most limit (<= 0: all). The store trims its rows to keep
// only every few thousand attempts (see trimEveryDefault), so it may hold
// older ones meanwhile; they are never shown.
func retained(ctx context.Context, st store.JobStore, keep int, job string, limit int, before time.Time) ([]store.Attempt, error) {
	as, err := st.ListAttempts(ctx, job, keep, time.Time{})
	if err != nil {
		return nil, err
	}
	if !before.IsZero() {
		// Newest first: the ones at or after before lead.
		as = as[sort.Search(len(as), func(i int) bool { return as[i].Start.Before(before) }):]
	}
	if limit > 0 && len(as) > limit {
		as = as[:limit]
	}
	return as, nil
}

func (e *Engine) logAttempt(a store.Attempt, c codes.Code) { logAttempt(e.log, a, c) }

// logAttempt writes a's line, shaped like Cloud Logging's AttemptFinished
// entry, to log.
func logAttempt(log *slog.Logger, a store.Attempt, c codes.Code) {
	level := slog.LevelInfo
	if c != codes.OK {
		level = slog.LevelError
	}
	if !log.Enabled(context.Background(), level) {
		return // a burst need not build lines nobody keeps
	}
	project, location, jobID := splitJobName(a.Job)
	// Groups as GroupValue of Attrs: slog.Group's ...any costs a
	// conversion and an allocation per group, on every attempt of a burst.
	log.LogAttrs(context.Background(), level, "AttemptFinished",
		slog.String("logName", "projects/"+project+"/logs/cloudscheduler.googleapis.com%2Fexecutions"),
		slog.Attr{Key: "resource", Value: slog.GroupValue(
			slog.String("type", "cloud_scheduler_job"),
			slog.Attr{Key: "labels", Value: slog.GroupValue(
				slog.String("project_id", project), slog.String("location", location), slog.String("job_id", jobID))})},
		slog.Attr{Key: "jsonPayload", Value: slog.GroupValue(
			slog.String("@type", "type.googleapis.com/google.cloud.scheduler.logging.AttemptFinished"),
			slog.String("jobName", a.Job),
			slog.String("scheduledTime", FormatScheduleTime(a.ScheduleTime)),
			slog.String("targetType", "HTTP"),
			slog.String("url", a.URL),
			slog.String("status", codeName(c)),
			slog.String("debugInfo", a.Message))},
	)
}

func splitJobName(name string) (project, location, job string) {
	rest, ok := strings.CutPrefix(name, "projects/")
	if ok {
		project, rest, ok = strings.Cut(rest, "/locations/")
	}
	if ok {
		location, job, ok = strings.Cut(rest, "/jobs/")
	}
	if !ok || project == "" || location == "" || strings.Contains(project, "/") || strings.Contains(location, "/") || strings.Contains(job, "/") {
		return "", "", name
	}
	return project, location, job
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
