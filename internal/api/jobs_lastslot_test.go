package api

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/directory"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/store"
)

// A slot fired by a replica whose clock is right; the API, served by a
// replica whose clock reads 0.6 s before that slot, then changes the
// schedule (and pauses and resumes the job): the next slot it computes is
// after the one fired, not that slot again.
func TestScheduleChangeAfterAFiredSlotOnAClockBehind(t *testing.T) {
	ctx := t.Context()
	st := openTestStore(t)
	slot := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clk := clock.NewFake(slot.Add(-30 * time.Second))
	x := &Scheduler{s: New(Config{Store: st, Dir: directory.New(st, clk, 0), Clock: clk, Logger: slog.New(slog.DiscardHandler)})}
	ctx = WithSubject(ctx, iam.Subject{Member: DevUser})

	name := "projects/acme/locations/us-central1/jobs/floor"
	created, err := x.CreateJob(ctx, &schedulerpb.CreateJobRequest{Parent: "projects/acme/locations/us-central1",
		Job: &schedulerpb.Job{Name: name, Schedule: "* * * * *", TimeZone: "UTC",
			Target: &schedulerpb.Job_HttpTarget{HttpTarget: &schedulerpb.HttpTarget{Uri: "http://127.0.0.1:9/x"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := created.GetScheduleTime().AsTime(); !got.Equal(slot) {
		t.Fatalf("first slot %v, want %v", got, slot)
	}

	// The slot is claimed (the claim writes it as the last slot fired) and
	// its execution ends, as an engine writes them.
	rec, err := st.GetJob(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	next := slot.Add(time.Minute)
	writeStates(ctx, t, st,
		store.JobState{Name: name, Version: rec.Version, NextFire: next, ScheduleTime: next,
			Exec: &store.Execution{ScheduleTime: slot, Owner: "x"}, LastSlot: slot},
		store.JobState{Name: name, Version: rec.Version + 1, NextFire: next, DueTime: next, ScheduleTime: next,
			Result: &store.JobResult{Status: &statuspb.Status{}, LastAttemptTime: slot}})

	clk.Set(slot.Add(-600 * time.Millisecond))
	want := slot.Add(5 * time.Minute) // */5 has the fired slot too
	check := func(what string, j *schedulerpb.Job) {
		t.Helper()
		if got := j.GetScheduleTime().AsTime(); !got.Equal(want) {
			t.Fatalf("%s: schedule_time %v, want %v (never the slot fired, %v)", what, got, want, slot)
		}
		r, err := st.GetJob(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !r.NextFire.Equal(want) || !r.DueTime.Equal(want) || !r.LastSlot.Equal(slot) {
			t.Fatalf("%s: stored NextFire %v DueTime %v LastSlot %v, want %v %v %v", what, r.NextFire, r.DueTime, r.LastSlot, want, want, slot)
		}
	}
	updated, err := x.UpdateJob(ctx, &schedulerpb.UpdateJobRequest{Job: &schedulerpb.Job{Name: name, Schedule: "*/5 * * * *"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"schedule"}}})
	if err != nil {
		t.Fatal(err)
	}
	check("UpdateJob", updated)

	if _, err := x.PauseJob(ctx, &schedulerpb.PauseJobRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	resumed, err := x.ResumeJob(ctx, &schedulerpb.ResumeJobRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	check("ResumeJob", resumed)

	// Once this clock has passed the last slot, it schedules from now, as
	// Google does.
	clk.Set(slot.Add(7 * time.Minute))
	want = slot.Add(10 * time.Minute)
	updated, err = x.UpdateJob(ctx, &schedulerpb.UpdateJobRequest{Job: &schedulerpb.Job{Name: name, Schedule: "*/10 * * * *"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"schedule"}}})
	if err != nil {
		t.Fatal(err)
	}
	check("UpdateJob past the last slot", updated)
}

func writeStates(ctx context.Context, t *testing.T, st store.JobStore, states ...store.JobState) {
	t.Helper()
	for _, s := range states {
		refused, err := st.UpdateJobStates(ctx, []store.JobState{s})
		if err != nil || len(refused) != 0 {
			t.Fatalf("UpdateJobStates %+v: refused %v, %v", s, refused, err)
		}
	}
}
