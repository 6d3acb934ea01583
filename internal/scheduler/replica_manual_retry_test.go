package scheduler

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/oidcron/oidcron/internal/clock"
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

// A RunJob's retry waiting in a replica's memory must end when the job is
// deleted (the package comment: "deleting it drops them too"; Engine's
// heldLocked ends a manual execution of a deleted job): nothing is sent
// with the deleted job's target and token.
func TestReplicaManualRetryEndsWithItsJob(t *testing.T) {
	st, r, clk, snd, sig, name := failedManualAttempt(t)

	if err := st.DeleteJob(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	r.Changed(name)
	clk.Advance(5 * time.Second)
	select {
	case c := <-snd.calls:
		c.answer(codes.OK, 200)
		t.Fatalf("the manual retry of a deleted job was sent (to %s, schedule time %v)",
			c.job.GetHttpTarget().GetUri(), c.scheduleTime)
	case d := <-sig.ExecutionDone:
		if !d.Manual {
			t.Fatalf("done %+v", d)
		}
	case <-time.After(guard):
		t.Fatal("the manual execution of the deleted job neither ended nor retried")
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
