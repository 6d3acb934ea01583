package scheduler

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/oidcron/oidcron/internal/store"
)

// engine.go package comment: "While an execution runs, schedule_time shows
// its next retry, or the next slot when no retry is pending; a paused job
// shows none." A job paused while a retry attempt is under way shows none,
// not that attempt's own (past) instant.
func TestPausedDuringRetryAttemptShowsNoScheduleTime(t *testing.T) {
	st := newMemStore()
	name := addJob(t, st, "pst", "every 1h", func(j *schedulerpb.Job) {
		j.RetryConfig = &schedulerpb.RetryConfig{RetryCount: 5, MinBackoffDuration: durationpb.New(10 * time.Second)}
	})
	h := newHarness(t, st, t0, nil)
	h.clk.Set(at("13:00:00"))
	h.call().answer(codes.Internal, 500)
	recv(t, h.sig.AttemptFinished, "attempt 1")
	h.clk.Set(at("13:00:10"))
	retry := h.call()
	defer retry.answer(codes.OK, 200)
	h.clk.Set(at("13:00:20"))
	h.apiWrite(name, func(r *store.JobRecord) { r.Job.State = schedulerpb.Job_PAUSED })
	r, err := st.GetJob(context.Background(), name) // Changed has written the engine's state
	if err != nil {
		t.Fatal(err)
	}
	if r.Job.GetState() != schedulerpb.Job_PAUSED || r.Job.GetScheduleTime() != nil {
		t.Errorf("paused job shows schedule_time %v, want none", r.Job.GetScheduleTime().AsTime())
	}
}
