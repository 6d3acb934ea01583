package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/postgres"
	"github.com/oidcron/oidcron/internal/store/postgres/pgtest"
)

// The Replica engine's tests run on PostgreSQL, the store replicas share;
// each replica has its own connection pool on the test's database, as
// separate processes would. The claim loops poll every 20 ms of wall time
// (the fallback that notices other replicas' jobs and orphans); due times
// are driven by fake clocks.

// openShared opens n handles on one fresh database.
func openShared(t *testing.T, n int) []*postgres.Store {
	t.Helper()
	url := pgtest.NewDatabase(t)
	var sts []*postgres.Store
	for range n {
		st, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		sts = append(sts, st)
	}
	return sts
}

// sink counts the executions it receives by (job, schedule time) and
// tells the test when a total is reached.
type sink struct {
	mu     sync.Mutex
	seen   map[string]int
	total  int
	want   int
	reach  chan struct{}
	by     map[string]int // attempts per replica
	answer codes.Code
}

func newSink() *sink { return &sink{seen: map[string]int{}, by: map[string]int{}} }

// expect arms a channel closed once total reaches n.
func (s *sink) expect(n int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.want, s.reach = n, make(chan struct{})
	if s.total >= n {
		close(s.reach)
	}
	return s.reach
}

func (s *sink) sender(replica string, clk clock.Clock) Sender {
	return SenderFunc(func(ctx context.Context, job *schedulerpb.Job, st time.Time) Outcome {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.seen[job.GetName()+"@"+FormatScheduleTime(st)]++
		s.by[replica]++
		s.total++
		if s.reach != nil && s.total == s.want {
			close(s.reach)
		}
		return Outcome{URL: job.GetHttpTarget().GetUri(), Code: s.answer, HTTPStatus: 200, Sent: clk.Now()}
	})
}

func startReplica(t *testing.T, st SharedStore, name string, clk clock.Clock, snd Sender, sig *TestSignals) *Replica {
	t.Helper()
	return startReplicaCfg(t, ReplicaConfig{Store: st, Clock: clk, Sender: snd, Name: name, Signals: sig})
}

// testLease is the tests' lease: short, so that takeovers happen quickly
// on the store's real clock.
const testLease = 600 * time.Millisecond

// steadyLease is the lease of the tests that assert exactly once and are
// not about failover. A replica whose heartbeats lapse has its executions
// taken over and repeated, which is at least once as designed; with the
// 600 ms test lease a loaded CI machine (PostgreSQL busy with the other
// packages' tests) made that happen, and such a test failed for it.
const steadyLease = time.Minute

// takenOver drains the Fired signals and counts the orphans taken over.
func takenOver(sigs ...*TestSignals) int {
	n := 0
	for _, sig := range sigs {
		for len(sig.Fired) > 0 {
			if (<-sig.Fired).Recovered {
				n++
			}
		}
	}
	return n
}

// startReplicaCfg starts a replica with the tests' lease and poll (unless
// cfg sets them) and parser.
func startReplicaCfg(t *testing.T, cfg ReplicaConfig) *Replica {
	t.Helper()
	cfg.Parse = parseFixture
	if cfg.Poll == 0 {
		cfg.Poll = 20 * time.Millisecond
	}
	if cfg.Lease == 0 {
		cfg.Lease = testLease
	}
	r := NewReplica(cfg)
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r.Stop(ctx)
	})
	return r
}

// addDueJob creates a job as the API does: its first slot computed.
func addDueJob(t *testing.T, st store.JobStore, id, schedule string, now time.Time, mod func(*schedulerpb.Job)) string {
	t.Helper()
	name := "projects/p/locations/us-central1/jobs/" + id
	j := &schedulerpb.Job{Name: name, Schedule: schedule, TimeZone: "UTC", State: schedulerpb.Job_ENABLED,
		Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{Uri: "http://target.test/" + id}}}
	if mod != nil {
		mod(j)
	}
	s, err := parseFixture(schedule, "UTC")
	if err != nil {
		t.Fatal(err)
	}
	next := s.Next(now)
	j.ScheduleTime = timestamppb.New(next)
	if err := st.CreateJob(context.Background(), store.JobRecord{Job: j, NextFire: next, DueTime: next}); err != nil {
		t.Fatal(err)
	}
	return name
}

func waitFor(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(3 * guard):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func flushAll(t *testing.T, rs ...*Replica) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	for _, r := range rs {
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// Three replicas on one database, 1,000 jobs due every minute: each
// (job, scheduled time) is sent exactly once, whichever replica claims it.
// Exactly once holds while every replica keeps its lease (see steadyLease).
func TestReplicasFireEachSlotOnce(t *testing.T) {
	const jobs, minutes = 1000, 3
	sts := openShared(t, 3)
	clk := clock.NewFake(t0)
	for i := range jobs {
		addDueJob(t, sts[0], fmt.Sprintf("j%04d", i), "every 1m", t0, nil)
	}
	s := newSink()
	var rs []*Replica
	var sigs []*TestSignals
	for i, st := range sts {
		name := fmt.Sprintf("r%d", i)
		sig := &TestSignals{Fired: make(chan Fire, 2*jobs*minutes)}
		sigs = append(sigs, sig)
		rs = append(rs, startReplicaCfg(t, ReplicaConfig{Store: st, Clock: clk, Sender: s.sender(name, clk), Name: name,
			Signals: sig, Lease: steadyLease}))
	}
	for m := 1; m <= minutes; m++ {
		reached := s.expect(m * jobs)
		clk.Set(t0.Truncate(time.Minute).Add(time.Duration(m) * time.Minute))
		waitFor(t, reached, fmt.Sprintf("minute %d's %d executions", m, jobs))
		flushAll(t, rs...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := takenOver(sigs...); n > 0 {
		t.Fatalf("%d executions taken over as orphans: a replica's heartbeats lapsed for %s", n, steadyLease)
	}
	if s.total != jobs*minutes || len(s.seen) != jobs*minutes {
		t.Fatalf("%d sends for %d distinct (job, slot), want %d of each", s.total, len(s.seen), jobs*minutes)
	}
	for k, n := range s.seen {
		if n != 1 {
			t.Fatalf("%s sent %d times", k, n)
		}
	}
	t.Logf("sends per replica: %v", s.by)
}

// skewed is a clock d ahead of (or behind) a shared fake clock.
type skewed struct {
	base *clock.Fake
	d    time.Duration
}

func (c skewed) Now() time.Time { return c.base.Now().Add(c.d) }
func (c skewed) AfterFunc(d time.Duration, f func()) clock.Timer {
	return c.base.AfterFunc(d, f)
}

// Replicas whose clocks disagree by up to a second (one 1 s ahead, one
// 1 s behind) neither double nor miss a slot: the ahead one claims each
// slot first, and the claim moves the job's next slot on for all.
func TestReplicaClockSkewNoDuplicateNoMiss(t *testing.T) {
	const jobs, minutes = 200, 3
	sts := openShared(t, 3)
	base := clock.NewFake(t0)
	for i := range jobs {
		addDueJob(t, sts[0], fmt.Sprintf("j%04d", i), "every 1m", t0, nil)
	}
	s := newSink()
	var rs []*Replica
	var sigs []*TestSignals
	for i, d := range []time.Duration{-time.Second, 0, time.Second} {
		name := fmt.Sprintf("r%d", i)
		clk := skewed{base, d}
		sig := &TestSignals{Fired: make(chan Fire, 2*jobs*minutes)}
		sigs = append(sigs, sig)
		rs = append(rs, startReplicaCfg(t, ReplicaConfig{Store: sts[i], Clock: clk, Sender: s.sender(name, clk), Name: name,
			Signals: sig, Lease: steadyLease}))
	}
	for m := 1; m <= minutes; m++ {
		slot := t0.Truncate(time.Minute).Add(time.Duration(m) * time.Minute)
		reached := s.expect(m * jobs)
		// Half a second before the slot by the middle clock: only the
		// replica 1 s ahead finds it due.
		base.Set(slot.Add(-500 * time.Millisecond))
		waitFor(t, reached, fmt.Sprintf("minute %d", m))
		// Then every clock passes it: nobody sends it again.
		base.Set(slot.Add(1500 * time.Millisecond))
		flushAll(t, rs...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := takenOver(sigs...); n > 0 {
		t.Fatalf("%d executions taken over as orphans: a replica's heartbeats lapsed for %s", n, steadyLease)
	}
	if s.total != jobs*minutes || len(s.seen) != jobs*minutes {
		t.Fatalf("%d sends for %d distinct (job, slot), want %d", s.total, len(s.seen), jobs*minutes)
	}
	if s.by["r2"] != jobs*minutes {
		t.Fatalf("sends per replica %v: the replica ahead should have claimed every slot first", s.by)
	}
}

// halt stops a replica as a crash would: no more claims or heartbeats,
// nothing retired, its attempt in flight left hanging.
func (r *Replica) halt() {
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
	close(r.quit)
	close(r.hbQuit)
	<-r.loopDone
	<-r.hbDone
}

// A replica that dies mid-attempt: another takes its execution over once
// its lease has expired and sends the attempt again with the same
// schedule time; the dead one's late outcome does not overwrite the
// survivor's.
func TestReplicaTakesOverOrphanedExecution(t *testing.T) {
	sts := openShared(t, 2)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1m", t0, nil)

	held := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sigA := NewTestSignals(10)
	a := startReplica(t, sts[0], "a", clk, held, sigA)
	clk.Set(at("12:01:00"))
	c := recv(t, held.calls, "a's attempt")
	a.halt()
	killed := time.Now()

	s := newSink()
	reached := s.expect(1)
	sigB := NewTestSignals(10)
	b := startReplica(t, sts[1], "b", clk, s.sender("b", clk), sigB)
	f := recv(t, sigB.Fired, "b's takeover")
	waitFor(t, reached, "b's attempt")
	took := time.Since(killed)
	if !f.Recovered || !f.ScheduleTime.Equal(at("12:01:00")) || !c.scheduleTime.Equal(at("12:01:00")) {
		t.Fatalf("takeover %+v, a's attempt for %v", f, c.scheduleTime)
	}
	if took > 5*time.Second {
		t.Fatalf("takeover after %v, want within 5 s", took)
	}
	t.Logf("taken over %v after the halt (lease 600ms)", took)
	done := recv(t, sigB.ExecutionDone, "b's execution")
	if done.Attempts != 1 || done.Code != codes.OK {
		t.Fatalf("b's execution %+v", done)
	}
	flushAll(t, b)
	after, err := sts[1].GetJob(context.Background(), name)
	if err != nil || after.Exec != nil || !after.NextFire.Equal(at("12:02:00")) || !after.DueTime.Equal(at("12:02:00")) {
		t.Fatalf("after b: %+v exec %+v err %v", after, after.Exec, err)
	}

	// a's attempt ends late (a was only paused, say): its outcome is
	// recorded in the history but leaves the job as b wrote it.
	c.answer(codes.Internal, 500)
	recv(t, sigA.AttemptFinished, "a's late outcome")
	flushAll(t, a)
	again, _ := sts[1].GetJob(context.Background(), name)
	if again.Version != after.Version || again.Job.GetStatus().GetCode() != 0 {
		t.Fatalf("a's late write changed the job: %+v status %v", again, again.Job.GetStatus())
	}
	as, err := sts[1].ListAttempts(context.Background(), name, 10, time.Time{})
	if err != nil || len(as) != 2 {
		t.Fatalf("attempts %+v %v", as, err)
	}
}

// A failed attempt releases its execution; the retry is claimed at the
// backoff's end with the same schedule time, and a pause between two
// attempts ends the execution.
func TestReplicaRetriesAndPause(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1m", t0, func(j *schedulerpb.Job) {
		j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 3, MinBackoffDuration: durationpb.New(10 * time.Second),
			MaxBackoffDuration: durationpb.New(time.Minute), MaxDoublings: 2}
	})
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	r := startReplica(t, sts[0], "r", clk, snd, sig)
	clk.Set(at("12:01:00"))
	c := recv(t, snd.calls, "attempt 1")
	c.answer(codes.Unavailable, 503)
	recv(t, sig.AttemptFinished, "attempt 1 recorded")
	flushAll(t, r)
	rec, _ := sts[0].GetJob(context.Background(), name)
	if rec.Exec == nil || rec.Exec.Owner != "" || rec.Exec.Attempts != 1 || !rec.DueTime.Equal(at("12:01:10")) {
		t.Fatalf("after attempt 1: %+v exec %+v", rec, rec.Exec)
	}
	clk.Set(at("12:01:10"))
	c = recv(t, snd.calls, "attempt 2")
	if !c.scheduleTime.Equal(at("12:01:00")) || !c.at.Equal(at("12:01:10")) {
		t.Fatalf("attempt 2 for %v at %v", c.scheduleTime, c.at)
	}
	c.answer(codes.Unavailable, 503)
	recv(t, sig.AttemptFinished, "attempt 2 recorded")
	flushAll(t, r)

	// Paused while the retry waits: the execution ends.
	rec, _ = sts[0].GetJob(context.Background(), name)
	rec.Job.State = schedulerpb.Job_PAUSED
	rec.NextFire, rec.DueTime = time.Time{}, time.Time{}
	if err := sts[0].UpdateJob(context.Background(), rec, rec.Version); err != nil {
		t.Fatal(err)
	}
	r.Changed(name)
	rec, _ = sts[0].GetJob(context.Background(), name)
	if rec.Exec != nil || !rec.DueTime.IsZero() {
		t.Fatalf("paused: %+v exec %+v", rec, rec.Exec)
	}
	clk.Set(at("12:05:00"))
	flushAll(t, r)
	select {
	case c := <-snd.calls:
		t.Fatalf("a paused job was sent: %v", c.scheduleTime)
	default:
	}
	as, _ := sts[0].ListAttempts(context.Background(), name, 10, time.Time{})
	if len(as) != 2 || as[0].Number != 2 || as[1].Number != 1 {
		t.Fatalf("attempts %+v", as)
	}
}

// RunJob runs at once in the replica that received it, with its retries,
// while the job's scheduled state stays as it is.
func TestReplicaRunNow(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1m", t0, func(j *schedulerpb.Job) {
		j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 1, MinBackoffDuration: durationpb.New(5 * time.Second),
			MaxBackoffDuration: durationpb.New(time.Minute), MaxDoublings: 1}
	})
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	// No poll within the test: the retry is claimed when it comes due
	// (the claim loop's timer), not found by a poll.
	r := startReplicaCfg(t, ReplicaConfig{Store: sts[0], Clock: clk, Sender: snd, Name: "r", Signals: sig, Poll: time.Hour})
	if err := r.RunNow(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	c := recv(t, snd.calls, "the manual attempt")
	if !c.scheduleTime.Equal(t0) {
		t.Fatalf("manual schedule time %v", c.scheduleTime)
	}
	c.answer(codes.Internal, 500)
	recv(t, sig.AttemptFinished, "attempt 1")
	clk.Advance(5 * time.Second)
	c = recv(t, snd.calls, "the manual retry")
	c.answer(codes.OK, 200)
	done := recv(t, sig.ExecutionDone, "the manual execution")
	if !done.Manual || done.Attempts != 2 {
		t.Fatalf("done %+v", done)
	}
	flushAll(t, r)
	rec, _ := sts[0].GetJob(context.Background(), name)
	if rec.Job.GetStatus().GetCode() != 0 || rec.Job.GetLastAttemptTime() == nil || rec.Exec != nil || !rec.NextFire.Equal(at("12:01:00")) {
		t.Fatalf("after the manual run: %+v status %v", rec, rec.Job.GetStatus())
	}
}

// A replica's history shows the newest Retention attempts only, though the
// database keeps older rows until the next trim.
func TestReplicaHistoryShowsOnlyRetainedAttempts(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1h", t0, nil)
	snd := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sig := NewTestSignals(10)
	r := startReplicaCfg(t, ReplicaConfig{Store: sts[0], Clock: clk, Sender: snd, Name: "r", Signals: sig, Retention: 2})
	ctx := context.Background()
	for i := range 4 {
		clk.Set(t0.Add(time.Duration(i+1) * time.Second))
		if err := r.RunNow(ctx, name); err != nil {
			t.Fatal(err)
		}
		recv(t, snd.calls, "a manual attempt").answer(codes.OK, 200)
		recv(t, sig.ExecutionDone, "a manual execution")
	}
	flushAll(t, r)
	if all, _ := sts[0].ListAttempts(ctx, name, 0, time.Time{}); len(all) != 4 {
		t.Fatalf("the database holds %d attempts, want all 4 (no trim yet)", len(all))
	}
	as, err := r.Attempts(ctx, name, 100, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || !as[0].ScheduleTime.Equal(t0.Add(4*time.Second)) || !as[1].ScheduleTime.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("history %+v, want the attempts of 12:00:04 and 12:00:03", as)
	}
	if as, _ := r.Attempts(ctx, name, 100, as[1].Start); len(as) != 0 {
		t.Fatalf("paging past the retention: %+v", as)
	}
}

// A replica that stops while an attempt is in flight keeps its heartbeat
// until the attempt's outcome is written: the others do not take the
// execution over meanwhile (that would send it twice). The test holds the
// attempt until the store's clock is two leases past the start of Stop.
func TestReplicaStopKeepsItsExecutions(t *testing.T) {
	sts := openShared(t, 2)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1m", t0, nil)
	held := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	// A lease longer than the tests' default: a's heartbeats must keep
	// the lease through its stop, and on a loaded machine a heartbeat
	// goroutine can be late by a few hundred milliseconds of real time.
	const lease = 2 * time.Second
	a := startReplicaCfg(t, ReplicaConfig{Store: sts[0], Clock: clk, Sender: held, Name: "a", Lease: lease})
	clk.Set(at("12:01:00"))
	c := recv(t, held.calls, "a's attempt")
	s := newSink()
	startReplicaCfg(t, ReplicaConfig{Store: sts[1], Clock: clk, Sender: s.sender("b", clk), Name: "b", Lease: lease})
	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop(context.Background()) }()
	ctx := context.Background()
	from, err := sts[1].Heartbeat(ctx, "watcher", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(guard)
	for now := from; now.Sub(from) < 2*lease; {
		if time.Now().After(deadline) {
			t.Fatal("the store's clock did not advance")
		}
		if now, err = sts[1].Heartbeat(ctx, "watcher", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	c.answer(codes.OK, 200)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total != 0 {
		t.Fatalf("b sent %v while a drained its attempt", s.seen)
	}
	rec, _ := sts[1].GetJob(ctx, name)
	if rec.Exec != nil || !rec.NextFire.Equal(at("12:02:00")) {
		t.Fatalf("after a's stop: exec %+v next %v", rec.Exec, rec.NextFire)
	}
}

// hbStore fails a replica's heartbeats while fail is set (its network to
// the database is cut, say), the replica itself running on.
type hbStore struct {
	*postgres.Store
	fail atomic.Bool
}

func (h *hbStore) Heartbeat(ctx context.Context, owner string, lease time.Duration) (time.Time, error) {
	if h.fail.Load() {
		return time.Time{}, errors.New("heartbeat cut by the test")
	}
	return h.Store.Heartbeat(ctx, owner, lease)
}

// A replica whose heartbeats lapse mid-attempt loses the execution to
// another; when it is back and claims the released retry itself, the late
// outcome of its first attempt must not end the execution under the
// retry in flight.
func TestReplicaLateOutcomeDoesNotEndANewerClaim(t *testing.T) {
	sts := openShared(t, 2)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1m", t0, func(j *schedulerpb.Job) {
		j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 3, MinBackoffDuration: durationpb.New(10 * time.Second),
			MaxBackoffDuration: durationpb.New(time.Minute), MaxDoublings: 2}
	})
	hr := &hbStore{Store: sts[0]}
	held := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sigR := NewTestSignals(10)
	r := startReplica(t, hr, "r", clk, held, sigR)
	clk.Set(at("12:01:00"))
	c1 := recv(t, held.calls, "r's attempt 1")

	failing := newSink()
	failing.answer = codes.Unavailable
	sigS := NewTestSignals(10)
	s := startReplica(t, sts[1], "s", clk, failing.sender("s", clk), sigS)
	hr.fail.Store(true)
	if f := recv(t, sigS.Fired, "s's takeover"); !f.Recovered {
		t.Fatalf("fire %+v", f)
	}
	recv(t, sigS.AttemptFinished, "s's attempt")
	flushAll(t, s)
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	hr.fail.Store(false)
	clk.Set(at("12:01:10"))
	c2 := recv(t, held.calls, "r's claim of the retry")
	c1.answer(codes.OK, 200)
	recv(t, sigR.AttemptFinished, "r's late attempt 1")
	flushAll(t, r)
	rec, _ := sts[0].GetJob(context.Background(), name)
	if rec.Exec == nil || rec.Exec.Owner != "r" || rec.Exec.Attempts != 1 {
		t.Fatalf("while the retry is in flight, the stored execution is %+v", rec.Exec)
	}
	c2.answer(codes.OK, 200)
	if a := recv(t, sigR.AttemptFinished, "the retry"); a.Number != 2 {
		t.Fatalf("attempt %+v", a)
	}
	flushAll(t, r)
	if rec, _ = sts[0].GetJob(context.Background(), name); rec.Exec != nil || rec.Job.GetStatus().GetCode() != 0 {
		t.Fatalf("after the retry: %+v exec %+v", rec.Job.GetStatus(), rec.Exec)
	}
}

// A replica whose heartbeat lapses twice within one attempt: r claims the
// slot and lapses; s takes the execution over and lapses too (it halts)
// before its outcome is written; r takes it back, under the same owner,
// schedule time and attempt count as its first claim. Only the claim's
// token tells the two claims of r apart: the late outcome of the first
// must not end the execution under the newer one in flight, and the
// newer one's outcome ends it.
func TestReplicaLateOutcomeAfterTwoLapsesDoesNotEndTheNewerClaim(t *testing.T) {
	ctx := context.Background()
	sts := openShared(t, 2)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1m", t0, nil)
	stored := func(what string) store.JobRecord {
		t.Helper()
		rec, err := sts[0].GetJob(ctx, name)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return rec
	}
	claimOf := func(owner, what string) int64 {
		t.Helper()
		ex := stored(what).Exec
		if ex == nil || ex.Owner != owner || ex.Attempts != 0 || !ex.ScheduleTime.Equal(at("12:01:00")) || ex.Claim == 0 {
			t.Fatalf("%s: the stored execution is %+v", what, ex)
		}
		return ex.Claim
	}

	hr := &hbStore{Store: sts[0]}
	held := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sigR := NewTestSignals(10)
	r := startReplica(t, hr, "r", clk, held, sigR)
	clk.Set(at("12:01:00"))
	recv(t, sigR.Fired, "r's slot")
	c1 := recv(t, held.calls, "the attempt of r's first claim")
	first := claimOf("r", "r's first claim")

	sHeld := &fakeSender{clk: clk, calls: make(chan *call, 10)}
	sigS := NewTestSignals(10)
	s := startReplica(t, sts[1], "s", clk, sHeld, sigS)
	hr.fail.Store(true)
	if f := recv(t, sigS.Fired, "s's takeover"); !f.Recovered {
		t.Fatalf("s's fire %+v", f)
	}
	cs := recv(t, sHeld.calls, "s's attempt")
	taken := claimOf("s", "s's claim")
	s.halt() // its lease lapses, its attempt's outcome unwritten
	hr.fail.Store(false)
	if f := recv(t, sigR.Fired, "r's takeover back"); !f.Recovered || !f.ScheduleTime.Equal(at("12:01:00")) {
		t.Fatalf("r's fire %+v", f)
	}
	c2 := recv(t, held.calls, "the attempt of r's newer claim")
	newer := claimOf("r", "r's newer claim")
	if first == taken || taken == newer || first == newer {
		t.Fatalf("claim tokens %d (r), %d (s), %d (r again): want three", first, taken, newer)
	}

	c1.answer(codes.OK, 200)
	recv(t, sigR.AttemptFinished, "the late outcome of r's first claim")
	flushAll(t, r)
	select {
	case d := <-sigR.ExecutionDone:
		t.Fatalf("the late outcome of r's first claim ended the execution: %+v", d)
	default:
	}
	if got := claimOf("r", "while the newer claim is in flight"); got != newer {
		t.Fatalf("while the newer claim is in flight, the stored claim is %d, want %d", got, newer)
	}

	c2.answer(codes.OK, 200)
	if a := recv(t, sigR.AttemptFinished, "the newer claim's attempt"); a.Number != 1 {
		t.Fatalf("attempt %+v", a)
	}
	if d := recv(t, sigR.ExecutionDone, "the execution's end"); d.Attempts != 1 || d.Code != codes.OK {
		t.Fatalf("execution %+v", d)
	}
	flushAll(t, r)
	after := stored("after the newer claim's outcome")
	if after.Exec != nil || after.Job.GetStatus().GetCode() != 0 || !after.NextFire.Equal(at("12:02:00")) {
		t.Fatalf("after the newer claim's outcome: exec %+v status %v next %v", after.Exec, after.Job.GetStatus(), after.NextFire)
	}

	// s's outcome, later still, is recorded and leaves the job as it is.
	cs.answer(codes.Internal, 500)
	recv(t, sigS.AttemptFinished, "s's late outcome")
	flushAll(t, s)
	if again := stored("after s's late outcome"); again.Version != after.Version {
		t.Fatalf("s's late outcome wrote the job: %+v exec %+v", again, again.Exec)
	}
	if as, err := sts[0].ListAttempts(ctx, name, 10, time.Time{}); err != nil || len(as) != 3 {
		t.Fatalf("attempts %+v %v, want 3", as, err)
	}
}

// lostCommit reports the first claim that took jobs as failed although it
// committed (the reply to COMMIT was lost).
type lostCommit struct {
	*postgres.Store
	armed atomic.Bool
}

func (l *lostCommit) ClaimJobs(ctx context.Context, owner string, now time.Time, limit int, plan func(store.JobRecord) (store.JobState, bool)) ([]store.JobRecord, error) {
	recs, err := l.Store.ClaimJobs(ctx, owner, now, limit, plan)
	if err == nil && len(recs) > 0 && l.armed.CompareAndSwap(true, false) {
		return nil, errors.New("connection lost during COMMIT (it committed)")
	}
	return recs, err
}

// A claim that committed but was reported failed leaves the job owned by
// a live replica that is not running it; the replica finds it among the
// jobs the store says it owns, releases it, and sends the slot (once).
func TestReplicaReleasesAClaimItDidNotKnowItMade(t *testing.T) {
	sts := openShared(t, 1)
	clk := clock.NewFake(t0)
	name := addDueJob(t, sts[0], "j", "every 1m", t0, nil)
	lc := &lostCommit{Store: sts[0]}
	lc.armed.Store(true)
	s := newSink()
	reached := s.expect(1)
	r := startReplica(t, lc, "r", clk, s.sender("r", clk), nil)
	clk.Set(at("12:01:00"))
	waitFor(t, reached, "the slot, sent after the release")
	flushAll(t, r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total != 1 || s.seen[name+"@"+FormatScheduleTime(at("12:01:00"))] != 1 || lc.armed.Load() {
		t.Fatalf("sends %v (lost commit still armed: %v)", s.seen, lc.armed.Load())
	}
}
