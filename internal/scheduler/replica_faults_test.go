package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/postgres"
)

// faultStore is a replica's PostgreSQL store with the faults a test
// switches on: a job whose attempts the store refuses for good (as it
// would a message it cannot encode), transactions that fail (an outage),
// transactions that hang (a hung database, deaf to their context), and
// reads of a job that fail.
type faultStore struct {
	*postgres.Store
	entered chan struct{} // a transaction blocked on hang

	mu          sync.Mutex
	refuse      string        // the job whose attempts are refused
	refuseState string        // the job whose state writes are refused
	txErr       error         // every transaction fails with it
	hbErr       error         // every heartbeat fails with it
	hang        chan struct{} // transactions wait until it is closed
	lost        bool          // transactions wait for their context: a connection lost without a word
	getErrs     map[string]int
}

func newFaultStore(st *postgres.Store) *faultStore {
	return &faultStore{Store: st, entered: make(chan struct{}, 100), getErrs: map[string]int{}}
}

func (f *faultStore) set(fn func(f *faultStore)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// hangTx makes the transactions from now on block until release.
func (f *faultStore) hangTx(t *testing.T) {
	f.set(func(f *faultStore) { f.hang = make(chan struct{}) })
	t.Cleanup(f.release)
}

func (f *faultStore) release() {
	f.set(func(f *faultStore) {
		if f.hang != nil {
			select {
			case <-f.hang:
			default:
				close(f.hang)
			}
		}
	})
}

func (f *faultStore) InTx(ctx context.Context, fn func(store.Tx) error) error {
	f.mu.Lock()
	hang, txErr, lost := f.hang, f.txErr, f.lost
	f.mu.Unlock()
	if lost {
		signal(f.entered, struct{}{})
		<-ctx.Done()
		return ctx.Err()
	}
	if hang != nil {
		select {
		case <-hang:
		default:
			signal(f.entered, struct{}{})
			<-hang
		}
	}
	if txErr != nil {
		return txErr
	}
	return f.Store.InTx(ctx, func(tx store.Tx) error { return fn(faultTx{tx, f}) })
}

func (f *faultStore) Heartbeat(ctx context.Context, owner string, lease time.Duration) (time.Time, error) {
	f.mu.Lock()
	err := f.hbErr
	f.mu.Unlock()
	if err != nil {
		return time.Time{}, err
	}
	return f.Store.Heartbeat(ctx, owner, lease)
}

func (f *faultStore) GetJob(ctx context.Context, name string) (store.JobRecord, error) {
	f.mu.Lock()
	fail := f.getErrs[name] > 0
	if fail {
		f.getErrs[name]--
	}
	f.mu.Unlock()
	if fail {
		return store.JobRecord{}, errors.New("read failed by the test")
	}
	return f.Store.GetJob(ctx, name)
}

type faultTx struct {
	store.Tx
	f *faultStore
}

func (t faultTx) AddAttempts(ctx context.Context, as []store.Attempt) error {
	t.f.mu.Lock()
	bad := t.f.refuse
	t.f.mu.Unlock()
	for _, a := range as {
		if bad != "" && a.Job == bad {
			return fmt.Errorf("invalid byte sequence for encoding UTF8 in the attempt of %s (refused by the test)", a.Job)
		}
	}
	return t.Tx.AddAttempts(ctx, as)
}

func (t faultTx) UpdateJobStates(ctx context.Context, states []store.JobState) ([]int, error) {
	t.f.mu.Lock()
	bad := t.f.refuseState
	t.f.mu.Unlock()
	for _, st := range states {
		if bad != "" && st.Name == bad {
			return nil, fmt.Errorf("the state of %s refused by the test", st.Name)
		}
	}
	return t.Tx.UpdateJobStates(ctx, states)
}

// metricOf reads a counter or gauge of reg.
func metricOf(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	return (&harness{t: t, reg: reg}).metric(name, "")
}

// One outcome the store refuses for good does not hold back those written
// with it: the writer splits the failed batch, writes the others, gives
// the bad one's attempt up after it failed by itself giveUpAfter times
// (logged, counted), and writes its execution's end without it: the
// attempt is not sent again.
func TestReplicaIsolatesAnOutcomeTheStoreRefuses(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	a := addDueJob(t, sts[0], "a", "every 1h", t0, nil)
	b := addDueJob(t, sts[0], "b", "every 1h", t0, nil)
	bad := addDueJob(t, sts[0], "bad", "every 1h", t0, nil)
	fs := newFaultStore(sts[0])
	fs.set(func(f *faultStore) { f.refuse = bad })
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(100)
	reg := prometheus.NewRegistry()
	logs := &syncBuffer{}
	r := startReplicaCfg(t, ReplicaConfig{Store: fs, Clock: clk, Sender: snd, Name: "r", Signals: sig, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	clk.Set(at("13:00:00"))
	calls := map[string]*call{}
	for range 3 {
		c := recv(t, snd.calls, "an attempt")
		calls[c.job.GetName()] = c
	}
	// a's outcome is written alone and held there, so that bad's and
	// b's are written together after it.
	fs.hangTx(t)
	calls[a].answer(codes.OK, 200)
	recv(t, fs.entered, "the write of a's outcome")
	calls[bad].answer(codes.OK, 200)
	calls[b].answer(codes.OK, 200)
	for range 3 {
		recv(t, sig.AttemptFinished, "an attempt's end")
	}
	fs.release()
	ended := map[string]bool{}
	for range 2 {
		ended[recv(t, sig.ExecutionDone, "an execution's end").Job] = true
	}
	if !ended[a] || !ended[b] {
		t.Fatalf("ended %v, want a and b", ended)
	}
	ctx := context.Background()
	for _, name := range []string{a, b} {
		rec, err := sts[0].GetJob(ctx, name)
		as, aerr := sts[0].ListAttempts(ctx, name, 10, time.Time{})
		if err != nil || aerr != nil || rec.Exec != nil || !rec.NextFire.Equal(at("14:00:00")) || len(as) != 1 {
			t.Fatalf("%s: %+v exec %+v attempts %+v (%v %v)", name, rec, rec.Exec, as, err, aerr)
		}
	}

	// bad fails by itself, round after round, until its attempt is given
	// up; the next round writes its execution's end without the attempt.
	dropped := func() float64 { return metricOf(t, reg, "oidcron_scheduler_dropped_attempts_total") }
	for i := 0; dropped() == 0; i++ {
		if i == 20 {
			t.Fatal("the refused outcome was never given up")
		}
		clk.Advance(maxRetryWrite)
		recv(t, sig.Flushed, "a write round")
	}
	if l := logs.String(); !strings.Contains(l, "giving up") || !strings.Contains(l, "job="+bad) || !strings.Contains(l, "refused by the test") {
		t.Fatalf("no log of the give-up naming the job and the error:\n%s", l)
	}
	clk.Advance(maxRetryWrite)
	if d := recv(t, sig.ExecutionDone, "bad's execution, its attempt dropped"); d.Job != bad {
		t.Fatalf("done %+v", d)
	}
	rec, err := sts[0].GetJob(ctx, bad)
	as, _ := sts[0].ListAttempts(ctx, bad, 10, time.Time{})
	if err != nil || rec.Exec != nil || !rec.NextFire.Equal(at("14:00:00")) || len(as) != 0 || dropped() != 1 {
		t.Fatalf("bad after the give-up: %+v exec %+v attempts %+v dropped %v %v", rec, rec.Exec, as, dropped(), err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-snd.calls:
		t.Fatalf("%s sent again for %v after its outcome was given up", c.job.GetName(), c.scheduleTime)
	default:
	}
}

// An execution whose state the store refuses too, even without the
// attempt: once that is given up, the claim, still this replica's in the
// store, is released and the attempt sent again with the same schedule
// time (at least once), and recorded once the store takes it.
func TestReplicaReleasesAnExecutionWhoseStateTheStoreRefuses(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	bad := addDueJob(t, sts[0], "bad", "every 1h", t0, nil)
	fs := newFaultStore(sts[0])
	fs.set(func(f *faultStore) { f.refuse, f.refuseState = bad, bad })
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(100)
	logs := &syncBuffer{}
	r := startReplicaCfg(t, ReplicaConfig{Store: fs, Clock: clk, Sender: snd, Name: "r", Signals: sig,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	clk.Set(at("13:00:00"))
	recv(t, snd.calls, "the attempt").answer(codes.OK, 200)
	for i := 0; !strings.Contains(logs.String(), "giving up writing an execution's state"); i++ {
		if i == 40 {
			t.Fatalf("the refused state was never given up:\n%s", logs.String())
		}
		clk.Advance(maxRetryWrite)
		recv(t, sig.Flushed, "a write round")
	}
	fs.set(func(f *faultStore) { f.refuse, f.refuseState = "", "" })
	c := recv(t, snd.calls, "the attempt again")
	if c.job.GetName() != bad || !c.scheduleTime.Equal(at("13:00:00")) {
		t.Fatalf("sent %s for %v, want %s for 13:00:00", c.job.GetName(), c.scheduleTime, bad)
	}
	c.answer(codes.OK, 200)
	if d := recv(t, sig.ExecutionDone, "the execution"); d.Job != bad || d.Attempts != 1 {
		t.Fatalf("done %+v", d)
	}
	ctx := context.Background()
	rec, err := sts[0].GetJob(ctx, bad)
	as, _ := sts[0].ListAttempts(ctx, bad, 10, time.Time{})
	if err != nil || rec.Exec != nil || !rec.NextFire.Equal(at("14:00:00")) || len(as) != 1 {
		t.Fatalf("after the retry: %+v exec %+v attempts %+v %v", rec, rec.Exec, as, err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// A replica that stops while the store refuses its writes: Stop and a
// later Flush say how many outcomes were not written. The store is down
// (its heartbeats fail too), so the outcome is not given up meanwhile.
func TestReplicaFlushAfterStopReportsUnwritten(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	addDueJob(t, sts[0], "j", "every 1m", t0, nil)
	fs := newFaultStore(sts[0])
	sig := NewTestSignals(10)
	reg := prometheus.NewRegistry()
	s := newSink()
	r := startReplicaCfg(t, ReplicaConfig{Store: fs, Clock: clk, Sender: s.sender("r", clk), Name: "r", Signals: sig, Registerer: reg})
	down := errors.New("connection refused (the test)")
	fs.set(func(f *faultStore) { f.txErr, f.hbErr = down, down })
	clk.Set(at("12:01:00"))
	recv(t, sig.AttemptFinished, "the attempt")
	recv(t, sig.Flushed, "the failed write")
	stopErr := r.Stop(context.Background())
	if err := r.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "1 attempt outcomes not written") {
		t.Fatalf("Flush after Stop: %v", err)
	}
	if stopErr == nil || !strings.Contains(stopErr.Error(), "1 attempt outcomes not written") {
		t.Fatalf("Stop: %v", stopErr)
	}
	if n := metricOf(t, reg, "oidcron_scheduler_dropped_attempts_total"); n != 0 {
		t.Fatalf("%v outcomes given up during an outage", n)
	}
}

// Stop does not wait for ever for a hung database: past its deadline (the
// lease here) it returns, saying what it left unwritten, and retires; the
// execution is taken over and sent again by another replica (at least
// once). The hung write, when it returns, changes nothing.
func TestReplicaStopDoesNotWaitForAHungStore(t *testing.T) {
	sts := openShared(t, 2)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1m", t0, nil)
	fs := newFaultStore(sts[0])
	held := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	a := startReplicaCfg(t, ReplicaConfig{Store: fs, Clock: clk, Sender: held, Name: "a"})
	clk.Set(at("12:01:00"))
	c := recv(t, held.calls, "a's attempt")
	fs.hangTx(t)
	c.answer(codes.OK, 200)
	recv(t, fs.entered, "a's write")
	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop(context.Background()) }()
	if err := recv(t, stopped, "a's Stop"); err == nil || !strings.Contains(err.Error(), "1 attempt outcomes not written") {
		t.Fatalf("Stop: %v", err)
	}

	s := newSink()
	reached := s.expect(1)
	sigB := NewTestSignals(10)
	startReplica(t, sts[1], "b", clk, s.sender("b", clk), sigB)
	if f := recv(t, sigB.Fired, "b's takeover"); !f.Recovered || !f.ScheduleTime.Equal(at("12:01:00")) {
		t.Fatalf("fire %+v", f)
	}
	waitFor(t, reached, "b's attempt")
	recv(t, sigB.ExecutionDone, "b's execution")
	ctx := context.Background()
	after, err := sts[1].GetJob(ctx, name)
	if err != nil || after.Exec != nil || !after.NextFire.Equal(at("12:02:00")) {
		t.Fatalf("after b: %+v exec %+v %v", after, after.Exec, err)
	}

	fs.release()
	recv(t, a.w.done, "a's writer to end")
	again, _ := sts[1].GetJob(ctx, name)
	as, _ := sts[1].ListAttempts(ctx, name, 10, time.Time{})
	if again.Version != after.Version || len(as) != 1 {
		t.Fatalf("a's late write: job %+v (was version %d), attempts %+v", again, after.Version, as)
	}
}

// queue_depth counts the executions a replica holds: claimed and not
// ended, or ended with the outcome not yet written, and manual ones.
func TestReplicaQueueDepth(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1m", t0, nil)
	fs := newFaultStore(sts[0])
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	reg := prometheus.NewRegistry()
	r := startReplicaCfg(t, ReplicaConfig{Store: fs, Clock: clk, Sender: snd, Name: "r", Signals: sig, Registerer: reg})
	depth := func(want float64, when string) {
		t.Helper()
		if got := metricOf(t, reg, "oidcron_scheduler_queue_depth"); got != want {
			t.Fatalf("%s: queue_depth %v, want %v", when, got, want)
		}
	}
	depth(0, "idle")
	clk.Set(at("12:01:00"))
	c := recv(t, snd.calls, "the attempt")
	depth(1, "attempt in flight")
	fs.hangTx(t)
	c.answer(codes.OK, 200)
	recv(t, fs.entered, "the outcome's write")
	depth(1, "outcome not written")
	if err := r.RunNow(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	m := recv(t, snd.calls, "the manual attempt")
	depth(2, "and a manual attempt in flight")
	fs.release()
	if d := recv(t, sig.ExecutionDone, "the scheduled execution"); d.Manual {
		t.Fatalf("done %+v", d)
	}
	depth(1, "scheduled outcome written")
	m.answer(codes.OK, 200)
	if d := recv(t, sig.ExecutionDone, "the manual execution"); !d.Manual {
		t.Fatalf("done %+v", d)
	}
	depth(0, "all written")
}

// ExecutionDone comes once the outcome is committed: who reads the store
// after it finds the attempt and the job's state.
func TestReplicaExecutionDoneAfterTheWrite(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1m", t0, nil)
	fs := newFaultStore(sts[0])
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	r := startReplicaCfg(t, ReplicaConfig{Store: fs, Clock: clk, Sender: snd, Name: "r", Signals: sig})
	clk.Set(at("12:01:00"))
	c := recv(t, snd.calls, "the attempt")
	fs.hangTx(t)
	c.answer(codes.OK, 200)
	recv(t, fs.entered, "the outcome's write")
	r.execs.Wait() // the attempt's goroutine has returned: whatever it signals is sent
	select {
	case d := <-sig.ExecutionDone:
		t.Fatalf("execution done %+v while its outcome's write hangs", d)
	default:
	}
	fs.release()
	recv(t, sig.ExecutionDone, "the execution")
	ctx := context.Background()
	rec, err := sts[0].GetJob(ctx, name)
	as, aerr := sts[0].ListAttempts(ctx, name, 10, time.Time{})
	if err != nil || aerr != nil || rec.Exec != nil || !rec.NextFire.Equal(at("12:02:00")) ||
		rec.Job.GetLastAttemptTime() == nil || len(as) != 1 || !as[0].ScheduleTime.Equal(at("12:01:00")) {
		t.Fatalf("after the event: %+v exec %+v attempts %+v (%v %v)", rec, rec.Exec, as, err, aerr)
	}
}

// A pause whose Changed cannot read the job still ends the execution
// waiting for its retry: the replica reads the job again, at once and then
// after retryRead, as Engine does; resumed, the job fires its next slot,
// not the retry.
func TestReplicaPauseReadFailureIsRetried(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1m", t0, func(j *schedulerpb.Job) {
		j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 3, MinBackoffDuration: durationpb.New(10 * time.Second),
			MaxBackoffDuration: durationpb.New(time.Minute), MaxDoublings: 2}
	})
	fs := newFaultStore(sts[0])
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	r := startReplicaCfg(t, ReplicaConfig{Store: fs, Clock: clk, Sender: snd, Name: "r", Signals: sig})
	clk.Set(at("12:01:00"))
	recv(t, snd.calls, "attempt 1").answer(codes.Unavailable, 503)
	recv(t, sig.AttemptFinished, "attempt 1's end")
	flushAll(t, r)
	ctx := context.Background()
	rec, _ := sts[0].GetJob(ctx, name)
	if rec.Exec == nil || rec.Exec.Owner != "" || !rec.DueTime.Equal(at("12:01:10")) {
		t.Fatalf("after attempt 1: %+v exec %+v", rec, rec.Exec)
	}
	// Paused as the API pauses: no next slot, nothing due.
	rec.Job.State = schedulerpb.Job_PAUSED
	rec.NextFire, rec.DueTime, rec.Job.ScheduleTime = time.Time{}, time.Time{}, nil
	if err := sts[0].UpdateJob(ctx, rec, rec.Version); err != nil {
		t.Fatal(err)
	}
	fs.set(func(f *faultStore) { f.getErrs[name] = 2 })
	r.Changed(name) // its read fails, and the re-read at once
	if rr := recv(t, sig.Reread, "the first re-read"); rr.Job != name || rr.Err == nil {
		t.Fatalf("re-read %+v, want a failure", rr)
	}
	clk.Advance(retryRead)
	if rr := recv(t, sig.Reread, "the second re-read"); rr.Job != name || rr.Err != nil {
		t.Fatalf("re-read %+v", rr)
	}
	if d := recv(t, sig.ExecutionDone, "the paused execution"); d.Job != name || d.Attempts != 1 {
		t.Fatalf("done %+v", d)
	}
	if rec, _ = sts[0].GetJob(ctx, name); rec.Exec != nil {
		t.Fatalf("paused: exec %+v", rec.Exec)
	}
	// Resumed as the API resumes: the next slot after now.
	rec.Job.State = schedulerpb.Job_ENABLED
	rec.NextFire, rec.DueTime = at("12:02:00"), at("12:02:00")
	if err := sts[0].UpdateJob(ctx, rec, rec.Version); err != nil {
		t.Fatal(err)
	}
	r.Changed(name)
	clk.Set(at("12:02:00"))
	if c := recv(t, snd.calls, "the next slot"); !c.scheduleTime.Equal(at("12:02:00")) {
		t.Fatalf("sent %v, want the 12:02:00 slot (the retry of 12:01:00 ended with the pause)", c.scheduleTime)
	}
}

// gatedClaims holds the claim loop inside a claim while gate is set, so
// that a test can look at the wakes queued for it meanwhile.
type gatedClaims struct {
	*postgres.Store
	gate    atomic.Pointer[chan struct{}]
	entered chan struct{}
}

func (g *gatedClaims) ClaimJobs(ctx context.Context, owner string, now time.Time, limit int, plan func(store.JobRecord) (store.JobState, bool)) ([]store.JobRecord, error) {
	if ch := g.gate.Load(); ch != nil {
		g.entered <- struct{}{}
		<-*ch
	}
	return g.Store.ClaimJobs(ctx, owner, now, limit, plan)
}

// An attempt's end wakes the claim loop only when something waits for it:
// not when the loop had dispatchers free and the job's next slot comes
// after the loop's next poll, which finds it. (Each wake is a claim, a
// round trip to the database: two per attempt were most of the database's
// work with three replicas.)
func TestReplicaAttemptEndWakesOnlyWhenNeeded(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	addDueJob(t, sts[0], "j", "every 1m", t0, nil)
	g := &gatedClaims{Store: sts[0], entered: make(chan struct{}, 1)}
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	// The poll is wall time, 30 s: the next slot, a minute away on the
	// fake clock, is after it.
	r := startReplicaCfg(t, ReplicaConfig{Store: g, Clock: clk, Sender: snd, Name: "r", Signals: sig, Poll: 30 * time.Second})
	clk.Set(at("12:01:00"))
	c := recv(t, snd.calls, "the attempt")

	// Hold the loop in a claim, then empty its wakes: from here on only
	// the attempt's end and its write can queue one.
	open := make(chan struct{})
	g.gate.Store(&open)
	r.kick()
	recv(t, g.entered, "the held claim")
	select {
	case <-r.wake:
	default:
	}
	c.answer(codes.OK, 200)
	recv(t, sig.ExecutionDone, "the execution")
	woken := len(r.wake)
	g.gate.Store(nil)
	close(open)
	if woken != 0 {
		t.Fatal("the attempt's end woke the claim loop, which had dispatchers free and nothing due before its poll")
	}
	r.kick() // the poll's claim, which arms the due timer
	clk.Set(at("12:02:00"))
	recv(t, snd.calls, "the next slot's attempt").answer(codes.OK, 200)
}

// An outcome written over a job the API changed meanwhile (the merge)
// wakes the claim loop by the due time it actually wrote: a schedule made
// more frequent during the attempt makes the job due at once, which the
// loop must not leave to its poll.
func TestReplicaMergedOutcomeWakesForItsDueTime(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1h", t0, nil)
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	// The poll (wall time) is longer than recv waits.
	r := startReplicaCfg(t, ReplicaConfig{Store: sts[0], Clock: clk, Sender: snd, Name: "r", Signals: sig, Poll: time.Minute})
	clk.Set(at("13:00:00"))
	c := recv(t, snd.calls, "the 13:00 attempt")

	ctx := context.Background()
	rec, err := sts[0].GetJob(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	rec.Job.Schedule, rec.NextFire = "every 1m", at("13:01:00") // as the API computes it
	if err := sts[0].UpdateJob(ctx, rec, rec.Version); err != nil {
		t.Fatal(err)
	}
	r.Changed(name) // its claim finds nothing: the job is this replica's
	clk.Set(at("13:01:30"))
	c.answer(codes.OK, 200)
	recv(t, sig.ExecutionDone, "the 13:00 execution")
	if c := recv(t, snd.calls, "the 13:01 slot, due when the merged outcome was written"); !c.scheduleTime.Equal(at("13:01:00")) {
		t.Fatalf("sent %v, want 13:01:00", c.scheduleTime)
	}
}

// hungClaims makes ClaimJobs block, once on, until its context ends (a
// claim waiting on a hung database, which pgx cancels with its context).
type hungClaims struct {
	*postgres.Store
	on      atomic.Bool
	entered chan struct{}
}

func (h *hungClaims) ClaimJobs(ctx context.Context, owner string, now time.Time, limit int, plan func(store.JobRecord) (store.JobState, bool)) ([]store.JobRecord, error) {
	if h.on.Load() {
		signal(h.entered, struct{}{})
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return h.Store.ClaimJobs(ctx, owner, now, limit, plan)
}

// A claim hung in the database does not hold Stop: Stop cancels the claim
// loop's calls before waiting for it.
func TestReplicaStopDoesNotWaitForAHungClaim(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	h := &hungClaims{Store: sts[0], entered: make(chan struct{}, 1)}
	r := startReplicaCfg(t, ReplicaConfig{Store: h, Clock: clk, Sender: &fakeSender{clk: clk, calls: make(chan *call, 1)}, Name: "r"})
	h.on.Store(true)
	r.kick()
	recv(t, h.entered, "the hung claim")
	done := make(chan error, 1)
	go func() { done <- r.Stop(context.Background()) }()
	if err := recv(t, done, "Stop"); err != nil {
		t.Fatal(err)
	}
}

// A pause told to the replica (Changed) while Stop drains an attempt in
// flight must still end the released execution of the paused job.
func TestReplicaPauseDuringStopEndsTheRetry(t *testing.T) {
	ctx := context.Background()
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	a := addDueJob(t, sts[0], "a", "every 1m", t0, func(j *schedulerpb.Job) {
		j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 3, MinBackoffDuration: durationpb.New(10 * time.Second),
			MaxBackoffDuration: durationpb.New(time.Minute), MaxDoublings: 2}
	})
	addDueJob(t, sts[0], "b", "every 1m", t0, nil)
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	r := startReplica(t, sts[0], "r", clk, snd, sig)
	clk.Set(at("12:01:00"))
	c1 := recv(t, snd.calls, "first")
	c2 := recv(t, snd.calls, "second")
	ca, cb := c1, c2
	if c1.job.GetName() != a {
		ca, cb = c2, c1
	}
	ca.answer(codes.Unavailable, 503)
	recv(t, sig.AttemptFinished, "a's attempt")
	flushAll(t, r)

	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop(ctx) }()
	<-r.loopDone // Stop cancelled the claim loop; b's attempt holds Stop

	rec, _ := sts[0].GetJob(ctx, a)
	rec.Job.State = schedulerpb.Job_PAUSED
	rec.NextFire, rec.DueTime = time.Time{}, time.Time{}
	if err := sts[0].UpdateJob(ctx, rec, rec.Version); err != nil {
		t.Fatal(err)
	}
	r.Changed(a)
	rec, _ = sts[0].GetJob(ctx, a)
	cb.answer(codes.OK, 200)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if rec.Exec != nil {
		t.Fatalf("paused during Stop's drain: the execution is left: %+v", rec.Exec)
	}
}

// A write on a connection lost without a word (no reset, no answer: a
// black-holed network) is given up after StoreTimeout and tried again on
// another: the writer does not wait for TCP's own timeouts, hours long,
// with the executions it owns unfinished.
func TestReplicaWriteOnALostConnectionTimesOut(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	addDueJob(t, sts[0], "j", "every 1m", t0, nil)
	fs := newFaultStore(sts[0])
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	startReplicaCfg(t, ReplicaConfig{Store: fs, Clock: clk, Sender: snd, Name: "r", Signals: sig, StoreTimeout: 100 * time.Millisecond})
	clk.Set(at("12:01:00"))
	c := recv(t, snd.calls, "the attempt")
	fs.set(func(f *faultStore) { f.lost = true })
	c.answer(codes.OK, 200)
	recv(t, fs.entered, "the outcome's write")
	recv(t, sig.Flushed, "the write round, its write timed out")
	fs.set(func(f *faultStore) { f.lost = false })
	clk.Advance(maxRetryWrite)
	if d := recv(t, sig.ExecutionDone, "the execution, written on the retry"); d.Attempts != 1 {
		t.Fatalf("done %+v", d)
	}
}

// A claim on a connection lost without a word is given up after
// StoreTimeout: the claim loop goes on.
func TestReplicaClaimOnALostConnectionTimesOut(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	h := &hungClaims{Store: sts[0], entered: make(chan struct{}, 1)}
	startReplicaCfg(t, ReplicaConfig{Store: h, Clock: clk, Sender: &fakeSender{clk: clk, calls: make(chan *call, 1)}, Name: "r",
		StoreTimeout: 100 * time.Millisecond})
	h.on.Store(true)
	recv(t, h.entered, "a claim, hung")
	recv(t, h.entered, "the next claim: the hung one was given up")
}
