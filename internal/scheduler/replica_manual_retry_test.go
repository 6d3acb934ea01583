package scheduler

import (
	"context"
	"errors"
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

// manualRetryJob is a job whose manual execution retries once after 5 s.
func manualRetryJob(j *schedulerpb.Job) {
	j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 2, MinBackoffDuration: durationpb.New(5 * time.Second),
		MaxBackoffDuration: durationpb.New(time.Minute), MaxDoublings: 1}
}

// failedManualAttempt starts one replica with a job whose RunJob attempt
// has just failed and been written, its retry due 5 s later.
func failedManualAttempt(t *testing.T) (SharedStore, *Replica, *clock.Fake, *fakeSender, *TestSignals, string) {
	t.Helper()
	st := openShared(t, 1)[0]
	clk := clock.NewFake(t0)
	name := addDueJob(t, st, "j", "every 1h", t0, manualRetryJob)
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	r := startReplicaCfg(t, ReplicaConfig{Store: st, Clock: clk, Sender: snd, Name: "r", Signals: sig, Lease: steadyLease})
	if err := r.RunNow(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	recv(t, snd.calls, "the manual attempt").answer(codes.Internal, 500)
	recv(t, sig.AttemptFinished, "the manual attempt's outcome")
	// The outcome's write bumps the job's version; the tests then edit the
	// job themselves, so it must have landed.
	flushAll(t, r)
	return st, r, clk, snd, sig, name
}

// A RunJob's retry, released to the store, ends when its job is deleted
// (the package comment: "deleting it drops them too"): DeleteJob takes the
// execution's row, so no replica can claim it, and nothing is sent with
// the deleted job's target and token.
func TestReplicaManualRetryEndsWithItsJob(t *testing.T) {
	st, r, clk, snd, _, name := failedManualAttempt(t)
	ctx := context.Background()
	if ms, err := st.ListManuals(ctx); err != nil || len(ms) != 1 || ms[0].Exec.Owner != "" || ms[0].Exec.Attempts != 1 {
		t.Fatalf("the released retry as stored: %+v %v", ms, err)
	}
	// A job due with the retry: once its attempt arrives, the claim that
	// would have taken the retry has run.
	marker := addDueJob(t, st, "marker", "every 1h", t0, nil)
	if rec, err := st.GetJob(ctx, marker); err != nil {
		t.Fatal(err)
	} else if refused, err := st.UpdateJobStates(ctx, []store.JobState{{Name: marker, Version: rec.Version, NextFire: t0.Add(5 * time.Second), DueTime: t0.Add(5 * time.Second)}}); err != nil || len(refused) > 0 {
		t.Fatalf("making the marker due: refused %v, %v", refused, err)
	}

	if err := st.DeleteJob(ctx, name); err != nil {
		t.Fatal(err)
	}
	r.Changed(name)
	if ms, err := st.ListManuals(ctx); err != nil || len(ms) != 0 {
		t.Fatalf("DeleteJob left the manual execution: %+v %v", ms, err)
	}
	clk.Advance(5 * time.Second)
	c := recv(t, snd.calls, "the marker's attempt")
	if c.job.GetName() != marker {
		c.answer(codes.OK, 200)
		t.Fatalf("the manual retry of a deleted job was sent (to %s, schedule time %v)", c.job.GetHttpTarget().GetUri(), c.scheduleTime)
	}
	c.answer(codes.OK, 200)
	// Stop waits for every attempt started: one of the deleted job would
	// be in the channel by then.
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-snd.calls:
		t.Fatalf("sent after the delete: %s for %v", c.job.GetName(), c.scheduleTime)
	default:
	}
}

// A job updated between a manual attempt and its retry: the retry sends
// the job as it is now (Engine's Changed replaces the message its
// executions send), not the message read at RunJob.
func TestReplicaManualRetrySendsTheUpdatedJob(t *testing.T) {
	st, r, clk, snd, _, name := failedManualAttempt(t)

	rec, err := st.GetJob(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	const moved = "http://moved.test/j"
	rec.Job.GetHttpTarget().Uri = moved
	if err := st.UpdateJob(context.Background(), rec, rec.Version); err != nil {
		t.Fatal(err)
	}
	r.Changed(name)
	clk.Advance(5 * time.Second)
	c := recv(t, snd.calls, "the manual retry")
	c.answer(codes.OK, 200)
	if got := c.job.GetHttpTarget().GetUri(); got != moved {
		t.Fatalf("the manual retry after the update was sent to %s, want %s", got, moved)
	}
}

// A replica killed during a RunJob attempt: another takes the execution
// over once the lease has expired and sends the attempt again with the
// same schedule time; the dead one's late outcome is recorded in the
// history but neither ends the execution nor becomes the job's status.
func TestReplicaTakesOverOrphanedManualExecution(t *testing.T) {
	sts := openShared(t, 2)
	ctx := context.Background()
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "m", "every 1h", t0, nil)
	held := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sigA := NewTestSignals(10)
	a := startReplica(t, sts[0], "a", clk, held, sigA)
	clk.Set(at("12:00:40"))
	if err := a.RunNow(ctx, name); err != nil {
		t.Fatal(err)
	}
	c := recv(t, held.calls, "a's manual attempt")
	a.halt() // kill -9

	s := newSink()
	reached := s.expect(1)
	sigB := NewTestSignals(10)
	b := startReplica(t, sts[1], "b", clk, s.sender("b", clk), sigB)
	if f := recv(t, sigB.Fired, "b's takeover"); !f.Manual || !f.Recovered || !f.ScheduleTime.Equal(at("12:00:40")) {
		t.Fatalf("takeover %+v", f)
	}
	waitFor(t, reached, "b's attempt")
	if s.seen[name+"@2026-03-01T12:00:40Z"] != 1 {
		t.Fatalf("b sent %v, want the schedule time of a's execution", s.seen)
	}
	if d := recv(t, sigB.ExecutionDone, "b's end of it"); !d.Manual || d.Attempts != 1 || d.Code != codes.OK {
		t.Fatalf("done %+v", d)
	}
	flushAll(t, b)
	if ms, err := sts[1].ListManuals(ctx); err != nil || len(ms) != 0 {
		t.Fatalf("the ended execution is still stored: %+v %v", ms, err)
	}
	after, _ := sts[1].GetJob(ctx, name)

	c.answer(codes.Internal, 500) // a was only stalled: its outcome comes late
	recv(t, sigA.AttemptFinished, "a's late outcome")
	flushAll(t, a)
	again, _ := sts[1].GetJob(ctx, name)
	if again.Version != after.Version || again.Job.GetStatus().GetCode() != 0 {
		t.Fatalf("a's late outcome changed the job: status %v", again.Job.GetStatus())
	}
	if as, err := sts[1].ListAttempts(ctx, name, 10, time.Time{}); err != nil || len(as) != 2 {
		t.Fatalf("attempts %+v %v: want b's and a's late one", as, err)
	}
}

// A RunJob retry waits in the store, not in the replica that started it:
// Stop leaves no timer on the clock and queue_depth at 0, and another
// replica sends the retry when it is due, the second attempt of the same
// schedule time.
func TestReplicaManualRetryOutlivesItsReplica(t *testing.T) {
	sts := openShared(t, 2)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1h", t0, func(j *schedulerpb.Job) {
		j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 3, MinBackoffDuration: durationpb.New(time.Minute),
			MaxBackoffDuration: durationpb.New(time.Hour)}
	})
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	reg := prometheus.NewRegistry()
	r := startReplicaCfg(t, ReplicaConfig{Store: sts[0], Clock: clk, Sender: snd, Name: "r", Signals: sig, Registerer: reg})
	if err := r.RunNow(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	recv(t, snd.calls, "the manual attempt").answer(codes.Unavailable, 503)
	recv(t, sig.AttemptFinished, "its end")
	flushAll(t, r)
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, d := clk.Pending(), metricOf(t, reg, "oidcron_scheduler_queue_depth"); n != 0 || d != 0 {
		t.Fatalf("after Stop: %d timers on the clock, queue_depth %v", n, d)
	}

	snd2 := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig2 := NewTestSignals(10)
	startReplica(t, sts[1], "r2", clk, snd2, sig2)
	clk.Advance(time.Minute)
	c := recv(t, snd2.calls, "the retry, by the other replica")
	if !c.scheduleTime.Equal(t0) {
		t.Fatalf("retry for %v, want %v", c.scheduleTime, t0)
	}
	c.answer(codes.OK, 200)
	if a := recv(t, sig2.AttemptFinished, "the retry's end"); a.Number != 2 || !a.Manual {
		t.Fatalf("retry %+v", a)
	}
	if d := recv(t, sig2.ExecutionDone, "the execution's end"); !d.Manual || d.Attempts != 2 {
		t.Fatalf("done %+v", d)
	}
}

// raceRelease makes a reconcile pass (releaseUnknown) run in the window
// between RunNow's AddManual commit and its holdManual: AddManual, once
// armed, asks the claim loop for a pass and returns only when the loop
// has listed the manual executions and gone on to claim jobs.
type raceRelease struct {
	*postgres.Store
	r      *Replica
	armed  atomic.Bool
	listen atomic.Bool
	listed atomic.Bool
	passed chan struct{}
	once   sync.Once
}

func (s *raceRelease) AddManual(ctx context.Context, m store.Manual) (int64, error) {
	id, err := s.Store.AddManual(ctx, m)
	if err == nil && s.armed.CompareAndSwap(true, false) {
		s.listen.Store(true)
		s.r.reconcile.Store(true)
		s.r.kick()
		select {
		case <-s.passed:
		case <-time.After(3 * guard):
		}
	}
	return id, err
}

func (s *raceRelease) ListManuals(ctx context.Context) ([]store.Manual, error) {
	ms, err := s.Store.ListManuals(ctx)
	if s.listen.Load() {
		s.listed.Store(true)
	}
	return ms, err
}

func (s *raceRelease) ClaimJobs(ctx context.Context, owner string, now time.Time, limit int, plan func(store.JobRecord) (store.JobState, bool)) ([]store.JobRecord, error) {
	if s.listed.Load() {
		s.once.Do(func() { close(s.passed) })
	}
	return s.Store.ClaimJobs(ctx, owner, now, limit, plan)
}

// A reconcile pass (releaseUnknown) that runs while RunNow is between its
// AddManual (the row committed, owned by this replica) and its hold of the
// execution leaves the row alone: were it released, the claim loop would
// send the attempt beside RunNow's, twice from one live replica.
func TestReplicaRunNowIsNotReleasedWhileStarting(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1h", t0, nil)
	rs := &raceRelease{Store: sts[0], passed: make(chan struct{})}
	s := newSink()
	r := NewReplica(ReplicaConfig{Store: rs, Clock: clk, Sender: s.sender("r", clk), Name: "r", Parse: parseFixture,
		Poll: 20 * time.Millisecond, Lease: steadyLease})
	rs.r = r
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	rs.armed.Store(true)
	if err := r.RunNow(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	flushAll(t, r)
	// Stop waits for every attempt started.
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.seen[name+"@"+FormatScheduleTime(t0)]; n != 1 {
		t.Fatalf("one RunJob, one live replica: its first attempt was sent %d times (%v)", n, s.seen)
	}
}

// lostManualCommit reports the first AddManual as failed although it
// committed (the reply to COMMIT was lost, or ctx ended just after it).
type lostManualCommit struct {
	*postgres.Store
	armed atomic.Bool
}

func (l *lostManualCommit) AddManual(ctx context.Context, m store.Manual) (int64, error) {
	id, err := l.Store.AddManual(ctx, m)
	if err == nil && l.armed.CompareAndSwap(true, false) {
		return 0, errors.New("connection lost during COMMIT (it committed)")
	}
	return id, err
}

// A RunNow whose AddManual committed but reported an error (its reply was
// lost) leaves a row this replica owns and does not run: it is released
// and sent, once, as a claim whose commit was reported failed is, not left
// owned by a live replica that nobody takes it over from.
func TestReplicaRunNowWhoseCommitWasLostRunsOnce(t *testing.T) {
	sts := openShared(t, 1)
	ctx := context.Background()
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1h", t0, nil)
	addDueJob(t, sts[0], "marker", "every 1m", t0, nil)
	lc := &lostManualCommit{Store: sts[0]}
	s := newSink()
	reached := s.expect(1)
	r := startReplicaCfg(t, ReplicaConfig{Store: lc, Clock: clk, Sender: s.sender("r", clk), Name: "r", Lease: steadyLease})
	// The start's reconcile pass is over once the first marker is sent.
	clk.Set(at("12:01:00"))
	waitFor(t, reached, "the first marker")

	lc.armed.Store(true)
	reached = s.expect(2) // the marker sends only at the next minute
	if err := r.RunNow(ctx, name); err == nil {
		t.Fatal("RunNow: want the lost commit's error")
	}
	waitFor(t, reached, "the RunJob execution, released and claimed")
	flushAll(t, r)
	s.mu.Lock()
	sent := s.seen[name+"@"+FormatScheduleTime(at("12:01:00"))]
	s.mu.Unlock()
	if sent != 1 {
		t.Fatalf("the RunJob execution was sent %d times (%v), want once", sent, s.seen)
	}
	if ms, err := sts[0].ListManuals(ctx); err != nil || len(ms) != 0 {
		t.Fatalf("after its attempt: %+v %v", ms, err)
	}
}

// staleRelease holds a reconcile pass between its ListManuals (its
// snapshot) and the releases it writes, until the test lets it go.
type staleRelease struct {
	*postgres.Store
	armed     atomic.Bool
	listedCh  chan struct{}
	proceed   chan struct{}
	afterList atomic.Bool
	passed    chan struct{}
	once      sync.Once
}

func (s *staleRelease) ListManuals(ctx context.Context) ([]store.Manual, error) {
	ms, err := s.Store.ListManuals(ctx)
	if s.armed.CompareAndSwap(true, false) {
		close(s.listedCh)
		<-s.proceed
		s.afterList.Store(true)
	}
	return ms, err
}

func (s *staleRelease) ClaimJobs(ctx context.Context, owner string, now time.Time, limit int, plan func(store.JobRecord) (store.JobState, bool)) ([]store.JobRecord, error) {
	if s.afterList.Load() {
		s.once.Do(func() { close(s.passed) })
	}
	return s.Store.ClaimJobs(ctx, owner, now, limit, plan)
}

// A reconcile pass lists the manual executions while one of this
// replica's attempts is in flight; the attempt fails and its release (the
// retry due 5 s later, attempts 1) is written before the pass finds the
// execution no longer held. The pass's copy, read before the release, is
// refused (a release moves the claim on): the retry keeps its backoff and
// its number.
func TestReplicaReleaseNeverOverwritesANewerRelease(t *testing.T) {
	st := openShared(t, 1)[0]
	ctx := context.Background()
	clk := clock.NewFake(t0)
	name := addDueJob(t, st, "j", "every 1h", t0, manualRetryJob)
	ss := &staleRelease{Store: st, listedCh: make(chan struct{}), proceed: make(chan struct{}), passed: make(chan struct{})}
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	r := startReplicaCfg(t, ReplicaConfig{Store: ss, Clock: clk, Sender: snd, Name: "r", Signals: sig, Lease: steadyLease})
	if err := r.RunNow(ctx, name); err != nil {
		t.Fatal(err)
	}
	c := recv(t, snd.calls, "the manual attempt")
	ss.armed.Store(true)
	r.reconcile.Store(true)
	r.kick()
	waitFor(t, ss.listedCh, "the reconcile pass's listing")
	c.answer(codes.Internal, 500)
	recv(t, sig.AttemptFinished, "the attempt's outcome")
	flushAll(t, r)
	if ms, err := st.ListManuals(ctx); err != nil || len(ms) != 1 || ms[0].Exec.Attempts != 1 || !ms[0].Exec.NextAttempt.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("the release as written: %+v %v", ms, err)
	}
	close(ss.proceed)
	waitFor(t, ss.passed, "the end of the reconcile pass")
	select {
	case c2 := <-snd.calls:
		c2.answer(codes.OK, 200)
		a := recv(t, sig.AttemptFinished, "the second attempt")
		t.Fatalf("the retry was sent at %v (due %v) as attempt number %d (want 2)", clk.Now(), t0.Add(5*time.Second), a.Number)
	default:
	}
	if ms, err := st.ListManuals(ctx); err != nil || len(ms) != 1 || ms[0].Exec.Attempts != 1 {
		t.Fatalf("after the reconcile pass: %+v %v", ms, err)
	}
}
