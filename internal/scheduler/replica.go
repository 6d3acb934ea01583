package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"github.com/prometheus/client_golang/prometheus"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/store"
)

// Replica is the engine of one of several oidcron processes sharing a
// database (store.Claimer). Unlike Engine it keeps no queue of jobs: the
// jobs table is the queue. It claims due work in transactions that skip the
// rows other replicas are claiming, so each scheduled time of each job is
// claimed by one replica; the claim (the execution, its owner, the job's
// next slot) commits before the first request is sent.
//
// Ownership. A claimed execution names its replica. The replica proves it
// is alive with heartbeats (every Lease/3 on the wall clock, judged by the
// database's clock); when they stop (a crash, kill -9) its executions are
// orphans after Lease, and another replica claims them and sends the
// attempt in flight again with the same schedule time: at least once, the
// one repeat a crash can cause. Between the attempts of an execution the
// execution is released (no owner) and its retry is due at the backoff's
// end, for any replica to claim. No leader: every replica claims, and the
// loss of any does not stop the others.
//
// RunJob's executions (store.Manual) follow the same rules in rows of
// their own: stored, owned by the replica that received the RunJob, before
// the first attempt is sent; released between attempts with the retry due
// for any replica to claim (ClaimManuals); taken over as orphans when
// their replica dies.
//
// The semantics are Engine's (see the package comment): missed slots fire
// once, never overlapping executions, retries as Google's, a pause ends the
// retries, RunJob runs at once in the replica that received it. One
// difference: a slot of a job does not wait for a RunJob execution that
// another replica runs (no replica sees another's in flight).
type Replica struct {
	st    SharedStore
	clk   clock.Clock
	send  Sender
	parse ParseFunc
	log   *slog.Logger
	m     *metrics
	sig   TestSignals
	name  string
	lease time.Duration
	poll  time.Duration

	workers  int
	inflight atomic.Int64
	// starved: the claim loop last found too few dispatchers free to
	// claim, and waits for attempts to end.
	starved atomic.Bool

	runCtx    context.Context
	cancelRun context.CancelFunc
	// loopCtx is the claim loop's database calls': Stop cancels it first,
	// so that a claim hung in the database does not hold Stop. A claim cut
	// off before its commit rolls back; one whose commit's reply is lost
	// stays this replica's and is orphaned when Stop retires it.
	loopCtx    context.Context
	cancelLoop context.CancelFunc
	wake       chan struct{}
	quit       chan struct{}
	hbQuit     chan struct{} // closed after the last attempt's outcome is written
	loopDone   chan struct{}
	hbDone     chan struct{}
	execs      sync.WaitGroup
	// aliveUntil is when (time since epoch, monotonic) this replica's
	// last confirmed heartbeat may have expired; it claims nothing after.
	aliveUntil atomic.Int64
	epoch      time.Time

	storeTimeout time.Duration

	// held counts the claimed executions of each job whose outcome is not
	// yet written, and heldManual the manual executions (by ID) this
	// replica owns from RunJob or a claim to their outcome's write;
	// reconcile compares the store's view with them. depth is the
	// queue_depth metric: both together.
	heldMu     sync.Mutex
	held       map[string]int
	heldManual map[int64]bool
	depth      int
	// adding counts the RunNow calls between their AddManual and their
	// holdManual: a row they stored is this replica's, running, though
	// not yet in heldManual, and releaseUnknownManuals must not take it.
	adding    atomic.Int64
	reconcile atomic.Bool // look for claims this replica does not know it made

	// stale are the jobs whose change Changed could not apply (a failed
	// read or write), each with the mark of its latest failure; the claim
	// loop tries them again at once (staleDue), then after staleWait,
	// doubling while they fail (up to maxRetryRead), as Engine does.
	staleMu    sync.Mutex
	stale      map[string]uint64
	staleMark  uint64
	staleWait  time.Duration
	staleTimer clock.Timer
	staleDue   atomic.Bool

	schedMu sync.Mutex
	scheds  map[schedKey]Schedule // nil value: does not parse

	// The claim loop asks for manual executions (a round trip of its
	// own) once per poll, and when a retry this replica released comes
	// due: manualDue holds those instants, on the engine's clock. Every
	// claim asking would double a burst's claims for executions that are
	// nearly always absent (RunJob is a human's act). lastManualLook is
	// the claim loop's alone.
	manualMu       sync.Mutex
	manualDue      []time.Time
	lastManualLook time.Time

	w replicaWriter

	mu       sync.Mutex
	timer    clock.Timer
	busyWait time.Duration // the current wait for due jobs others hold
	started  bool
	stopping bool
}

// SharedStore is a store several replicas share.
type SharedStore interface {
	store.Store
	store.Claimer
}

// ReplicaConfig configures a Replica. The fields shared with Config mean
// the same.
type ReplicaConfig struct {
	Store      SharedStore
	Clock      clock.Clock
	Sender     Sender
	Parse      ParseFunc
	Workers    int
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Retention  int
	Signals    *TestSignals
	// Name identifies the replica in the store; default: host, pid and a
	// random suffix (a restarted process is a new replica: its previous
	// self's executions are orphans).
	Name string
	// Lease is how long a heartbeat keeps the replica's executions its
	// own; default DefaultLease.
	Lease time.Duration
	// Poll bounds, in wall time, the wait between two looks at the store
	// when nothing is known to be due: how soon another replica's new job
	// or an orphan is noticed; default DefaultPoll.
	Poll time.Duration
	// StoreTimeout bounds each call the claim loop and the writer make to
	// the store; default DefaultStoreTimeout.
	StoreTimeout time.Duration
}

// DefaultStoreTimeout is long beside any claim or write (milliseconds), and
// short beside TCP's own timeouts: a connection lost without a word (a
// black-holed network) must not hold the claim loop or the writer, and
// with them the executions this replica owns, for hours.
const DefaultStoreTimeout = 30 * time.Second

// DefaultLease and DefaultPoll give a failover, from a replica's last
// heartbeat to another's claim of its executions, of at most about
// Lease + Poll = 4 s.
const (
	DefaultLease = 3 * time.Second
	DefaultPoll  = time.Second
)

// NewReplica returns a replica engine; it does nothing until Start.
func NewReplica(cfg ReplicaConfig) *Replica {
	r := &Replica{
		st: cfg.Store, clk: cfg.Clock, send: cfg.Sender, parse: cfg.Parse, log: cfg.Logger,
		m: newMetrics(cfg.Registerer), name: cfg.Name, lease: cfg.Lease, poll: cfg.Poll, workers: cfg.Workers,
		storeTimeout: cfg.StoreTimeout,
		wake:         make(chan struct{}, 1), quit: make(chan struct{}), hbQuit: make(chan struct{}), loopDone: make(chan struct{}), hbDone: make(chan struct{}),
		scheds: map[schedKey]Schedule{}, held: map[string]int{}, heldManual: map[int64]bool{}, stale: map[string]uint64{},
	}
	if r.storeTimeout <= 0 {
		r.storeTimeout = DefaultStoreTimeout
	}
	if r.clk == nil {
		r.clk = clock.Real{}
	}
	if r.parse == nil {
		r.parse = ParseCron
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.workers <= 0 {
		r.workers = defaultWorkers
	}
	if r.lease <= 0 {
		r.lease = DefaultLease
	}
	if r.poll <= 0 {
		r.poll = DefaultPoll
	}
	if r.name == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		r.name = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if cfg.Signals != nil {
		r.sig = *cfg.Signals
	}
	keep := cfg.Retention
	if keep <= 0 {
		keep = defaultRetention
	}
	r.w = newReplicaWriter(r, keep)
	r.runCtx, r.cancelRun = context.WithCancel(context.Background())
	r.loopCtx, r.cancelLoop = context.WithCancel(r.runCtx)
	r.epoch = time.Now()
	return r
}

// Name is the replica's name in the store.
func (r *Replica) Name() string { return r.name }

// Start registers the replica's heartbeat and starts claiming.
func (r *Replica) Start(ctx context.Context) error {
	if r.st == nil || r.send == nil {
		return errors.New("scheduler: ReplicaConfig needs Store and Sender")
	}
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("scheduler: already started")
	}
	r.mu.Unlock()
	if err := r.heartbeat(ctx); err != nil {
		return fmt.Errorf("scheduler: first heartbeat: %w", err)
	}
	r.mu.Lock()
	r.started = true
	r.mu.Unlock()
	// A process restarted under the same Name finds its predecessor's
	// executions owned by itself.
	r.reconcile.Store(true)
	// The first look for manual executions is a poll from now: orphans
	// are not claimable before this replica has been alive for their
	// owner's lease anyway, and a released retry is looked for when due.
	r.manualMu.Lock()
	r.lastManualLook = time.Now()
	r.manualMu.Unlock()
	go r.w.run()
	go r.heartbeats()
	go r.claimLoop()
	return nil
}

// heartbeat renews the replica's lease and records until when it holds.
func (r *Replica) heartbeat(ctx context.Context) error {
	sent := time.Now()
	if _, err := r.st.Heartbeat(ctx, r.name, r.lease); err != nil {
		return err
	}
	// The store counted the lease from some instant after sent: from sent
	// it is a lower bound. Kept as time since r.epoch, which reads the
	// monotonic clock: a step of the wall clock moves neither side.
	// The later of the known leases: beats overlap (the writer asks for
	// one after a failed write), and an older one ending last must not
	// shorten the lease.
	until := int64(sent.Sub(r.epoch) + r.lease)
	for {
		was := r.aliveUntil.Load()
		if until <= was {
			return nil
		}
		if r.aliveUntil.CompareAndSwap(was, until) {
			if was < int64(time.Since(r.epoch)) {
				r.kick() // alive again: claim
			}
			return nil
		}
	}
}

func (r *Replica) alive() bool { return int64(time.Since(r.epoch)) < r.aliveUntil.Load() }

// heartbeats renews the lease three times per lease, in wall time: the
// database judges it by its own clock, whatever clock schedules the jobs.
func (r *Replica) heartbeats() {
	defer close(r.hbDone)
	t := time.NewTicker(r.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-r.hbQuit:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), r.lease/3)
			if err := r.heartbeat(ctx); err != nil && r.runCtx.Err() == nil {
				r.log.Error("replica heartbeat failed", "replica", r.name, "err", err)
			}
			cancel()
		}
	}
}

func (r *Replica) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// minClaim is the least number of free dispatchers worth a claim while
// others are busy: a burst claims in groups rather than one job per
// finished attempt.
func (r *Replica) minClaim() int64 { return int64(max(1, r.workers/4)) }

// claimLoop claims due work while dispatchers are free, then waits for the
// next due time (on the engine's clock), a wake (a change here, a freed
// dispatcher, a renewed heartbeat) or the poll interval (wall time).
func (r *Replica) claimLoop() {
	defer close(r.loopDone)
	poll := time.NewTicker(r.poll)
	defer poll.Stop()
	for {
		select {
		case <-r.quit:
			return
		default:
		}
		if r.reconcile.Load() && r.alive() {
			r.releaseUnknown()
		}
		if r.staleDue.Swap(false) {
			r.rereadStale()
		}
		claimed, limit, err := r.claimOnce()
		switch {
		case err != nil && r.loopCtx.Err() != nil:
			return // Stop cut the claim off
		case err != nil:
			// The claim may have committed all the same (its reply was
			// lost): its jobs would stay this replica's, unsent.
			r.reconcile.Store(true)
			r.log.Error("claiming due jobs", "replica", r.name, "err", err)
		case limit == 0:
			// Not alive, or no dispatcher free: a renewed heartbeat or a
			// finished attempt wakes the loop.
		case claimed == limit:
			continue // more may be due at once
		default:
			r.armNextDue(claimed)
		}
		select {
		case <-r.quit:
			return
		case <-r.wake:
		case <-poll.C:
		}
	}
}

// claimOnce claims what the free dispatchers can take and starts it. It
// returns how many jobs it claimed of the limit it asked for; limit 0: it
// did not try (not alive, or too few dispatchers free).
func (r *Replica) claimOnce() (claimed, limit int, err error) {
	if !r.alive() {
		return 0, 0, nil
	}
	// starved is set before inflight is read, and an attempt reads it
	// after freeing its dispatcher: either this read sees the freed one
	// or that attempt wakes the loop (sequentially consistent atomics).
	r.starved.Store(true)
	busy := r.inflight.Load()
	free := int64(r.workers) - busy
	if free <= 0 || (busy > 0 && free < r.minClaim()) {
		return 0, 0, nil
	}
	r.starved.Store(false)
	limit = int(min(free, maxBatch))
	now := r.clk.Now()
	ctx, cancel := context.WithTimeout(r.loopCtx, r.storeTimeout)
	defer cancel()
	var manuals int
	if r.lookForManuals(now) {
		if manuals, err = r.claimManuals(ctx, now, limit); err != nil || manuals == limit {
			return manuals, limit, err
		}
	}
	var plans map[string]claimKind
	recs, err := r.st.ClaimJobs(ctx, r.name, now, limit-manuals, func(rec store.JobRecord) (store.JobState, bool) {
		if plans == nil {
			plans = make(map[string]claimKind, limit)
		}
		st, k := r.plan(rec, now)
		plans[rec.Job.GetName()] = k
		return st, true
	})
	if err != nil {
		return manuals, limit, err
	}
	for _, rec := range recs {
		k := plans[rec.Job.GetName()]
		if k.skipped > 0 {
			r.m.skipped.Add(float64(k.skipped))
			r.log.Warn("slots skipped: the job fires once for the latest missed slot",
				"job", rec.Job.GetName(), "scheduleTime", FormatScheduleTime(rec.Exec.ScheduleTime), "skipped", k.skipped)
		}
		if rec.Exec == nil || rec.Exec.Owner != r.name {
			continue // a correction, not an execution
		}
		r.hold(rec.Job.GetName(), 1)
		x := &replicaExec{r: r, job: rec.Job, version: rec.Version, incarnation: rec.Incarnation, nextFire: rec.NextFire,
			exec: *rec.Exec, recovered: k.kind == claimOrphan,
			key: schedKey{rec.Job.GetSchedule(), rec.Job.GetTimeZone()}}
		if k.kind == claimSlot {
			r.m.fires.WithLabelValues("scheduled").Inc()
		}
		if k.kind != claimRetry {
			signal(r.sig.Fired, Fire{Job: rec.Job.GetName(), ScheduleTime: x.exec.ScheduleTime, Recovered: x.recovered, Skipped: k.skipped})
		}
		if !r.begin() {
			r.hold(rec.Job.GetName(), -1)
			return manuals + len(recs), limit, nil // stopping: the claim is orphaned at Retire
		}
		go x.attempt()
	}
	return manuals + len(recs), limit, nil
}

// lookForManuals tells whether this claim asks for manual executions:
// a poll interval (wall time) has passed since the last look, or a retry
// released here is due by now, which it then forgets.
func (r *Replica) lookForManuals(now time.Time) bool {
	r.manualMu.Lock()
	defer r.manualMu.Unlock()
	look := time.Since(r.lastManualLook) >= r.poll
	kept := r.manualDue[:0]
	for _, due := range r.manualDue {
		if due.After(now) {
			kept = append(kept, due)
		} else {
			look = true
		}
	}
	r.manualDue = kept
	if look {
		r.lastManualLook = time.Now()
	}
	return look
}

// manualRetryAt records that a manual execution released here is due at
// due, for the claim loop to look for it then (the loop's timer comes
// from NextDue, which counts it).
func (r *Replica) manualRetryAt(due time.Time) {
	r.manualMu.Lock()
	defer r.manualMu.Unlock()
	r.manualDue = append(r.manualDue, due)
}

// claimManuals claims up to limit manual executions (retries due, and
// orphans) and starts them, each with its job as stored now: a job
// updated since RunJob is sent as updated. It returns how many it claimed.
func (r *Replica) claimManuals(ctx context.Context, now time.Time, limit int) (int, error) {
	ms, err := r.st.ClaimManuals(ctx, r.name, now, limit)
	if err != nil {
		// It may have committed all the same.
		r.reconcile.Store(true)
		return 0, err
	}
	if len(ms) == 0 {
		return 0, nil
	}
	// Held from the claim on: a releaseUnknown pass must not take them
	// while their jobs are read. (It runs on this goroutine, but a later
	// pass must see them held until each one's outcome is written.)
	for _, m := range ms {
		r.holdManual(m.ID, 1)
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Job
	}
	recs, err := r.st.GetJobs(ctx, names)
	if err != nil {
		// Claimed but not started: releaseUnknown gives them back.
		for _, m := range ms {
			r.holdManual(m.ID, -1)
		}
		r.reconcile.Store(true)
		return len(ms), err
	}
	jobs := make(map[string]store.JobRecord, len(recs))
	for _, rec := range recs {
		jobs[rec.Job.GetName()] = rec
	}
	for i, m := range ms {
		rec, ok := jobs[m.Job]
		if !ok || rec.Incarnation != m.Incarnation {
			// The job is gone (DeleteJob takes its executions, so only a
			// store written otherwise has this one): it ends unsent.
			if _, err := r.st.UpdateManuals(ctx, []store.ManualWrite{{ID: m.ID, Claim: m.Exec.Claim}}); err != nil {
				r.log.Error("ending the manual execution of a job that is gone", "job", m.Job, "err", err)
			}
			r.holdManual(m.ID, -1)
			continue
		}
		x := &replicaExec{r: r, job: rec.Job, incarnation: rec.Incarnation, manual: true, id: m.ID, exec: m.Exec,
			recovered: m.Orphan || m.Exec.Attempts == 0}
		if m.Orphan {
			signal(r.sig.Fired, Fire{Job: m.Job, ScheduleTime: m.Exec.ScheduleTime, Manual: true, Recovered: true})
		}
		if !r.begin() {
			// Stopping: the claims are orphaned at Retire.
			for _, m := range ms[i:] {
				r.holdManual(m.ID, -1)
			}
			return len(ms), nil
		}
		go x.attempt()
	}
	return len(ms), nil
}

// hold adds d to the count of name's claimed executions in flight.
func (r *Replica) hold(name string, d int) {
	r.heldMu.Lock()
	defer r.heldMu.Unlock()
	was := r.held[name]
	if r.held[name] += d; r.held[name] <= 0 {
		delete(r.held, name)
	}
	r.setDepthLocked(r.held[name] - was)
}

// holdManual records that the manual execution id is (d = 1) or is no
// longer (d = -1) this replica's to run and write.
func (r *Replica) holdManual(id int64, d int) {
	r.heldMu.Lock()
	defer r.heldMu.Unlock()
	if (d > 0) == r.heldManual[id] {
		return
	}
	if d > 0 {
		r.heldManual[id] = true
	} else {
		delete(r.heldManual, id)
	}
	r.setDepthLocked(d)
}

func (r *Replica) holdsManual(id int64) bool {
	r.heldMu.Lock()
	defer r.heldMu.Unlock()
	return r.heldManual[id]
}

// setDepthLocked adds d to queue_depth: for a replica, whose due queue is
// the shared jobs table, the executions it holds (claimed or run here,
// until their outcome is written).
func (r *Replica) setDepthLocked(d int) {
	r.depth += d
	r.m.queueDepth.Set(float64(r.depth))
}

func (r *Replica) holds(name string) bool {
	r.heldMu.Lock()
	defer r.heldMu.Unlock()
	return r.held[name] > 0
}

// releaseUnknown releases the executions the store says this replica owns
// but that it is not running (a claim whose commit was reported failed,
// or a predecessor under the same name): they become due at once, and the
// attempt they stand for is made by whichever replica claims them, with
// the same schedule time. It runs on the claim loop, between claims.
func (r *Replica) releaseUnknown() {
	// Cleared first: a claim let go while this runs (the writer gave up
	// its outcome) sets it again, for the next pass.
	r.reconcile.Store(false)
	ctx, cancel := context.WithTimeout(r.loopCtx, r.storeTimeout)
	defer cancel()
	names, err := r.st.OwnedJobs(ctx, r.name)
	if err != nil {
		r.reconcile.Store(true)
		r.log.Error("listing this replica's executions", "replica", r.name, "err", err)
		return
	}
	clean := true
	for _, name := range names {
		if r.holds(name) {
			continue
		}
		rec, err := r.st.GetJob(ctx, name)
		if err != nil || rec.Exec == nil || rec.Exec.Owner != r.name || r.holds(name) {
			clean = clean && (err == nil || errors.Is(err, store.ErrNotFound))
			continue
		}
		x := *rec.Exec
		x.Owner, x.Claim = "", 0
		st := store.JobState{Name: name, Version: rec.Version, NextFire: rec.NextFire, DueTime: r.clk.Now(), Exec: &x,
			ScheduleTime: tsTime(rec.Job.GetScheduleTime())}
		refused, err := r.st.UpdateJobStates(ctx, []store.JobState{st})
		if err != nil || len(refused) > 0 {
			clean = false
			continue
		}
		r.log.Warn("released an execution this replica owned without running it", "replica", r.name, "job", name,
			"scheduleTime", FormatScheduleTime(x.ScheduleTime))
	}
	if !r.releaseUnknownManuals(ctx) {
		clean = false
	}
	if !clean {
		r.reconcile.Store(true)
	}
}

// releaseUnknownManuals is releaseUnknown for manual executions, which are
// few (RunJob is a human's act): it reads them all. It reports whether it
// released every one it found.
func (r *Replica) releaseUnknownManuals(ctx context.Context) bool {
	ms, err := r.st.ListManuals(ctx)
	if err != nil {
		r.log.Error("listing the manual executions", "replica", r.name, "err", err)
		return false
	}
	if r.adding.Load() > 0 {
		// A RunNow between its AddManual and its holdManual: a row listed
		// may be its, running. The next pass looks again.
		return false
	}
	var ws []store.ManualWrite
	for _, m := range ms {
		// Checked after the list: a row listed was stored before it,
		// so RunNow's hold of it (if it is RunNow's) came before the
		// check of adding above.
		if m.Exec.Owner != r.name || r.holdsManual(m.ID) {
			continue
		}
		// Written only if the row is still as listed: every write of a
		// manual execution by its holder moves its claim on (release),
		// or deletes it, so a copy read before an outcome's write is
		// refused rather than written over it.
		x := m.Exec
		x.Owner, x.NextAttempt, x.Claim = "", r.clk.Now(), m.Exec.Claim+1
		ws = append(ws, store.ManualWrite{ID: m.ID, Claim: m.Exec.Claim, Exec: &x})
	}
	if len(ws) == 0 {
		return true
	}
	r.manualRetryAt(ws[0].Exec.NextAttempt) // due now: the next claim looks
	refused, err := r.st.UpdateManuals(ctx, ws)
	if err != nil {
		r.log.Error("releasing manual executions", "replica", r.name, "err", err)
		return false
	}
	r.log.Warn("released manual executions this replica owned without running them", "replica", r.name,
		"released", len(ws)-len(refused))
	return true
}

// armNextDue arms the timer for the earliest due job after a claim that
// took claimed jobs, fewer than it asked for. A due time already past
// means the due jobs are locked by another transaction (another replica's
// claim, an API write) that will move them on: the loop looks again
// after a short wait in wall time, doubling while that lasts, instead of
// claiming in a tight loop.
func (r *Replica) armNextDue(claimed int) {
	ctx, cancel := context.WithTimeout(r.loopCtx, r.storeTimeout)
	defer cancel()
	next, err := r.st.NextDue(ctx)
	if err != nil {
		r.log.Error("reading the next due time", "replica", r.name, "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	if next.IsZero() || r.stopping {
		return
	}
	d := next.Sub(r.clk.Now())
	if d > 0 {
		r.busyWait = 0
		r.timer = r.clk.AfterFunc(d, r.kick)
		return
	}
	if claimed > 0 {
		r.busyWait = 0
	}
	r.busyWait = min(max(2*r.busyWait, minBusyWait), r.poll)
	r.timer = time.AfterFunc(r.busyWait, r.kick)
}

// minBusyWait is the first wait for due jobs another transaction holds: a
// claim commits in a few milliseconds.
const minBusyWait = 5 * time.Millisecond

type claimKind struct {
	kind    int
	skipped int
}

const (
	claimFix    = iota // the job's state was corrected; nothing to send
	claimSlot          // a scheduled slot starts an execution
	claimRetry         // the next attempt of a released execution
	claimOrphan        // an execution whose replica died: its attempt again
)

// plan decides what a claim of rec at now writes. It runs inside the
// claim's transaction: no side effects but the returned kind.
func (r *Replica) plan(rec store.JobRecord, now time.Time) (store.JobState, claimKind) {
	st := store.JobState{Name: rec.Job.GetName(), Version: rec.Version, NextFire: rec.NextFire, DueTime: rec.DueTime,
		ScheduleTime: tsTime(rec.Job.GetScheduleTime())}
	enabled := rec.Job.GetState() == schedulerpb.Job_ENABLED
	if ex := rec.Exec; ex != nil {
		if !enabled {
			// Paused since: the execution ends with the attempt it made
			// (Engine ends it the same way).
			st.DueTime, st.ScheduleTime = rec.NextFire, time.Time{}
			return st, claimKind{kind: claimFix}
		}
		x := *ex
		kind := claimRetry
		if x.Owner != "" {
			kind = claimOrphan
		}
		x.Owner, x.NextAttempt, x.Claim = r.name, time.Time{}, newClaim()
		st.Exec, st.DueTime = &x, time.Time{}
		return st, claimKind{kind: kind}
	}
	s := r.schedule(rec.Job)
	if !enabled || s == nil {
		st.NextFire, st.DueTime, st.ScheduleTime = time.Time{}, time.Time{}, time.Time{}
		return st, claimKind{kind: claimFix}
	}
	slot := rec.NextFire
	if slot.IsZero() {
		slot = s.Next(now)
	}
	if !slot.IsZero() && !slot.After(rec.LastSlot) {
		// Fired already: NextFire was computed by a clock behind the one
		// that fired it (another replica's, an API write served by one).
		// The first slot after the last one fired is next.
		slot = s.Next(rec.LastSlot)
	}
	if slot.IsZero() {
		// The schedule has no slot left.
		st.NextFire, st.DueTime, st.ScheduleTime = time.Time{}, time.Time{}, time.Time{}
		return st, claimKind{kind: claimFix}
	}
	if slot.After(now) {
		// Due by DueTime but not by the slot: DueTime was stale.
		st.NextFire, st.DueTime, st.ScheduleTime = slot, slot, slot
		return st, claimKind{kind: claimFix}
	}
	fire, skipped, next := catchUp(s, slot, now)
	st.Exec = &store.Execution{ScheduleTime: fire, Owner: r.name, Claim: newClaim()}
	st.NextFire, st.DueTime, st.ScheduleTime = next, time.Time{}, next
	// In the claim's own write: from its commit on, no clock brings the
	// slot back.
	st.LastSlot = fire
	return st, claimKind{kind: claimSlot, skipped: skipped}
}

// newClaim returns a claim's token (store.Execution.Claim): random in
// [1, 2^63-1], so that replicas and restarts need no coordination. Two
// claims of one execution share a token with odds of 2^-63; only a late
// outcome of the one, arriving while the other is in flight, would be
// taken for the other's.
func newClaim() int64 { return mrand.Int64N(math.MaxInt64) + 1 }

// schedule returns job's parsed schedule (nil if it does not parse),
// parsing each schedule and time zone once.
func (r *Replica) schedule(job *schedulerpb.Job) Schedule {
	k := schedKey{job.GetSchedule(), job.GetTimeZone()}
	r.schedMu.Lock()
	defer r.schedMu.Unlock()
	s, ok := r.scheds[k]
	if !ok {
		var err error
		if s, err = r.parse(k.spec, k.zone); err != nil {
			s = nil
			r.log.Error("job schedule does not parse; it will not fire", "job", job.GetName(), "schedule", k.spec, "timeZone", k.zone, "err", err)
		}
		if len(r.scheds) >= 10_000 {
			clear(r.scheds) // a bound, not a policy: schedules are few
		}
		r.scheds[k] = s
	}
	return s
}

// replicaExec is one execution this replica runs: claimed from the store,
// or started by RunJob (manual).
type replicaExec struct {
	r           *Replica
	id          int64 // a manual execution's store.Manual.ID
	job         *schedulerpb.Job
	version     int64 // the job's stored version after the claim
	incarnation int64
	nextFire    time.Time
	// exec is the execution as claimed; its Claim, the claim's token,
	// goes with each outcome for the writer to check (replicaWrite).
	exec      store.Execution
	key       schedKey
	manual    bool
	recovered bool
	lastCode  codes.Code // of the last attempt
}

// attempt makes one attempt and hands what follows to the writer.
func (x *replicaExec) attempt() {
	r := x.r
	defer r.execs.Done()
	n := x.exec.Attempts + 1
	start := r.clk.Now()
	if n == 1 {
		x.exec.FirstAttempt = start
	}
	name := x.job.GetName()
	out := r.send.Send(r.runCtx, x.job, x.exec.ScheduleTime)
	end := r.clk.Now()
	if r.runCtx.Err() != nil && out.Code == codes.Canceled {
		// Stopped: the execution stays claimed, and is orphaned when the
		// replica retires; another replica sends it again.
		if x.manual {
			r.holdManual(x.id, -1)
		}
		r.inflight.Add(-1)
		return
	}
	if n == 1 && !out.Sent.IsZero() && !x.recovered {
		r.m.fireDelay.Observe(out.Sent.Sub(x.exec.ScheduleTime).Seconds())
	}
	if n > 1 {
		r.m.retries.Inc()
	}
	r.m.attempts.WithLabelValues(codeName(out.Code)).Inc()
	att := store.Attempt{Job: name, Incarnation: x.incarnation, ScheduleTime: x.exec.ScheduleTime, Manual: x.manual, Number: n,
		Start: start, End: end, URL: out.URL, HTTPStatus: out.HTTPStatus, Code: int32(out.Code), Message: out.Message}
	res := &statuspb.Status{Code: int32(out.Code)}
	if out.Code != codes.OK {
		res.Message = out.Message
	}
	result := &store.JobResult{Status: res, LastAttemptTime: start}
	next := retryDecision(x.job.GetRetryConfig(), out.Code == codes.OK, n, x.exec.FirstAttempt, end)
	x.exec.Attempts, x.lastCode = n, out.Code

	if x.manual {
		// Released with its retry due, for any replica to claim, or
		// deleted at its end; either only while this claim holds it.
		mw := store.ManualWrite{ID: x.id, Claim: x.exec.Claim}
		if !next.IsZero() {
			// A new claim value with the release: a stale copy of the
			// row (releaseUnknownManuals') cannot be written over it.
			e := x.exec
			e.Owner, e.NextAttempt, e.Claim = "", next, x.exec.Claim+1
			mw.Exec = &e
		}
		r.w.add(replicaWrite{manual: true, name: name, incarnation: x.incarnation, result: result, mw: mw, due: next, last: next.IsZero()}, att)
	} else {
		st := store.JobState{Name: name, Version: x.version, NextFire: x.nextFire, Result: result}
		if next.IsZero() {
			st.DueTime, st.ScheduleTime = x.nextFire, x.nextFire
		} else {
			e := x.exec
			e.Owner, e.Claim, e.NextAttempt = "", 0, next
			st.Exec, st.DueTime, st.ScheduleTime = &e, next, next
		}
		r.w.add(replicaWrite{name: name, state: st, incarnation: x.incarnation, key: x.key, execTime: x.exec.ScheduleTime,
			claim: x.exec.Claim, claimed: n - 1,
			last: next.IsZero()}, att)
	}
	// The retry is claimed again from the store; the dispatcher is free
	// for due work, which only a claim loop waiting for dispatchers needs
	// to hear now: otherwise a wake would be a claim, a database round
	// trip, for nothing.
	r.inflight.Add(-1)
	if r.starved.Load() {
		r.kick()
	}
	logAttempt(r.log, att, out.Code)
	signal(r.sig.AttemptFinished, att)
	// ExecutionDone is the writer's, once the end is committed: who reads
	// the store after it finds the attempt and the job's state.
}

// begin counts an execution's attempt as started unless the replica is
// stopping (Stop waits for the counted ones).
func (r *Replica) begin() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping {
		return false
	}
	r.inflight.Add(1)
	r.execs.Add(1)
	return true
}

// Changed is told by the API that it wrote the job. The API has already
// computed the job's next slot; the replica ends the execution of a job
// paused between two attempts (a pause stops the retries) and looks at the
// store again, since the job may now be due sooner than it expected.
//
// When the job cannot be read or written, the claim loop tries again at
// once, then after retryRead, backing off (as Engine re-reads a stale
// job): a released execution of a paused job is never claimed (the pause
// cleared its due time), and only this ends it.
func (r *Replica) Changed(name string) {
	defer r.kick()
	// runCtx, not the loop's: the API calls this while Stop drains the
	// attempts in flight, after the claim loop is gone, and a change lost
	// then would leave a paused job's retry waiting for its resume.
	if err := r.endPaused(r.runCtx, name); err != nil {
		r.log.Error("applying a job's change; trying again", "job", name, "err", err)
		r.staleMu.Lock()
		r.staleMark++
		r.stale[name] = r.staleMark
		r.staleMu.Unlock()
		r.staleDue.Store(true)
	}
}

// endPaused ends the released execution of name if its job is paused,
// and signals its end.
func (r *Replica) endPaused(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, r.storeTimeout)
	defer cancel()
	for try := 0; try < maxWriteTries; try++ {
		rec, err := r.st.GetJob(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if rec.Exec == nil || rec.Exec.Owner != "" || rec.Job.GetState() == schedulerpb.Job_ENABLED {
			// An owned execution learns of the change when its outcome's
			// write is refused (replicaWriter).
			return nil
		}
		st := store.JobState{Name: name, Version: rec.Version, NextFire: rec.NextFire, DueTime: rec.NextFire}
		refused, err := r.st.UpdateJobStates(ctx, []store.JobState{st})
		if err != nil {
			return err
		}
		if len(refused) == 0 {
			signal(r.sig.ExecutionDone, ExecutionDone{Job: name, ScheduleTime: rec.Exec.ScheduleTime, Attempts: rec.Exec.Attempts,
				Code: codes.Code(rec.Job.GetStatus().GetCode())})
			return nil
		}
	}
	return fmt.Errorf("ending the execution of a paused job: %w after %d tries", store.ErrVersionMismatch, maxWriteTries)
}

// rereadStale applies again the changes Changed could not; those that
// still fail are tried again after staleWait (on the clock), which doubles
// each time up to maxRetryRead. It runs on the claim loop.
func (r *Replica) rereadStale() {
	r.staleMu.Lock()
	marks := make(map[string]uint64, len(r.stale))
	for name, m := range r.stale {
		marks[name] = m
	}
	r.staleMu.Unlock()
	var reads []Reread
	for name, m := range marks {
		err := r.endPaused(r.loopCtx, name)
		r.staleMu.Lock()
		if err == nil && r.stale[name] == m { // not failed again since
			delete(r.stale, name)
		}
		r.staleMu.Unlock()
		if err != nil {
			r.log.Error("applying a job's change again; trying later", "job", name, "err", err)
		}
		reads = append(reads, Reread{Job: name, Err: err})
	}
	r.staleMu.Lock()
	if len(r.stale) == 0 {
		r.staleWait = 0
	} else if r.staleTimer == nil && r.loopCtx.Err() == nil {
		r.staleWait = min(max(2*r.staleWait, retryRead), maxRetryRead)
		r.staleTimer = r.clk.AfterFunc(r.staleWait, func() {
			r.staleMu.Lock()
			r.staleTimer = nil
			r.staleMu.Unlock()
			r.staleDue.Store(true)
			r.kick()
		})
	}
	r.staleMu.Unlock()
	// After the timer is armed: a test that sees a failed re-read may move
	// the clock to the next.
	for _, rr := range reads {
		signal(r.sig.Reread, rr)
	}
}

// RunNow is RunJob: a manual execution, at once, in this replica, stored
// (store.Manual, owned by this replica) before its attempt is sent.
func (r *Replica) RunNow(ctx context.Context, name string) error {
	rec, err := r.st.GetJob(ctx, name)
	if err != nil {
		return err
	}
	x := &replicaExec{r: r, job: rec.Job, incarnation: rec.Incarnation, manual: true,
		exec: store.Execution{ScheduleTime: r.clk.Now(), Manual: true, Owner: r.name, Claim: 1}}
	if !r.begin() {
		return errors.New("scheduler: stopping")
	}
	r.adding.Add(1)
	x.id, err = r.st.AddManual(ctx, store.Manual{Job: name, Incarnation: rec.Incarnation, Exec: x.exec})
	if err == nil {
		r.holdManual(x.id, 1)
	}
	r.adding.Add(-1)
	if err != nil {
		r.inflight.Add(-1)
		r.execs.Done()
		if !errors.Is(err, store.ErrNotFound) {
			// It may have committed all the same (its reply was lost): a
			// row this replica owns and does not run, which
			// releaseUnknown gives to whichever replica claims it.
			r.reconcile.Store(true)
			r.kick()
		}
		return err
	}
	r.m.fires.WithLabelValues("manual").Inc()
	signal(r.sig.Fired, Fire{Job: name, ScheduleTime: x.exec.ScheduleTime, Manual: true})
	go x.attempt()
	return nil
}

// Attempts returns a job's recorded attempts, newest first, after writing
// this replica's pending ones (another replica's pending attempts appear
// once its writer commits them, a batch later).
func (r *Replica) Attempts(ctx context.Context, job string, limit int, before time.Time) ([]store.Attempt, error) {
	if err := r.Flush(ctx); err != nil {
		return nil, err
	}
	return retained(ctx, r.st, r.w.keep, job, limit, before)
}

// Flush returns once every write pending when it was called is made; an
// error if one failed, or if the replica stopped with outcomes not
// written (how many).
func (r *Replica) Flush(ctx context.Context) error { return r.w.flush(ctx) }

// Stop stops claiming, waits for the attempts in flight, writes what is
// pending, and retires the replica. Attempts still running when ctx ends
// are cancelled, which is no failure (Stop logs it): their executions are
// orphaned, and sent again, by another replica or by this one restarted,
// when their claim lapses.
//
// The final writes get one lease, or until ctx's deadline if that is
// later. A store that does not answer by then is left behind: Stop logs
// and returns what it could not write, stops heartbeating and retires, and
// another replica claims those executions and sends them again (at least
// once); a write that lands late is checked against their new claims.
func (r *Replica) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.started || r.stopping {
		r.mu.Unlock()
		return nil
	}
	r.stopping = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Unlock()
	close(r.quit)
	r.cancelLoop()
	<-r.loopDone
	r.staleMu.Lock() // after the loop, which arms it
	if r.staleTimer != nil {
		r.staleTimer.Stop()
		r.staleTimer = nil
	}
	r.staleMu.Unlock()
	done := make(chan struct{})
	go func() { r.execs.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.log.Warn("stopping: attempts still running at the shutdown deadline are cancelled; their executions are sent again when their claim lapses",
			"replica", r.name, "cause", context.Cause(ctx))
		r.cancelRun()
		<-done
	}
	var err error
	deadline := time.Now().Add(r.lease)
	if d, ok := ctx.Deadline(); ok && d.After(deadline) {
		deadline = d
	}
	if n, jobs := r.w.stop(deadline); n > 0 {
		r.log.Error("stopping with attempt outcomes not written: their executions are sent again by another replica",
			"replica", r.name, "unwritten", n, "jobs", jobs)
		err = errors.Join(err, errUnwritten(n))
	}
	// Heartbeats go on until here: while attempts drain and their
	// outcomes are written, the executions are still this replica's, and
	// another replica taking them over would send them twice.
	close(r.hbQuit)
	<-r.hbDone
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if rerr := r.st.Retire(rctx, r.name); rerr != nil {
		err = errors.Join(err, fmt.Errorf("scheduler: retiring replica: %w", rerr))
	}
	r.cancelRun()
	return err
}
