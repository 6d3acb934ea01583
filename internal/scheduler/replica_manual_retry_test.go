package scheduler

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/store"
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
