package storetest

import (
	"testing"
	"time"

	"github.com/oidcron/oidcron/internal/store"
)

// RunTimeRange checks a store whose times are int64 nanoseconds (years
// 1678 to 2262), as both SQL backends keep them: UpdateJobStates with one
// state outside that range fails the call before anything of it is
// written, and so do AddManual and UpdateManuals. It is not part of Run, since a store in memory has no such
// range. s must be empty.
func RunTimeRange(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	for i := range 2 {
		if err := s.CreateJob(ctx, BenchJobRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	bad := []store.JobState{
		{Name: BenchJobName(0), Version: 1, NextFire: BenchT0},
		{Name: BenchJobName(1), Version: 1, NextFire: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	if _, err := s.UpdateJobStates(ctx, bad); err == nil {
		t.Fatal("UpdateJobStates accepted a time it cannot store")
	}
	for i := range 2 {
		if r, err := s.GetJob(ctx, BenchJobName(i)); err != nil || r.Version != 1 {
			t.Fatalf("job %d after a failed call: version %d, %v", i, r.Version, err)
		}
	}

	// The same of the manual executions' writes.
	late := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.AddManual(ctx, store.Manual{Job: BenchJobName(0), Incarnation: 1, Exec: store.Execution{ScheduleTime: late}}); err == nil {
		t.Fatal("AddManual accepted a time it cannot store")
	}
	ids := make([]int64, 2)
	for i := range ids {
		var err error
		if ids[i], err = s.AddManual(ctx, store.Manual{Job: BenchJobName(i), Incarnation: 1, Exec: store.Execution{ScheduleTime: BenchT0}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpdateManuals(ctx, []store.ManualWrite{
		{ID: ids[0], Exec: &store.Execution{ScheduleTime: BenchT0, Attempts: 1}},
		{ID: ids[1], Exec: &store.Execution{ScheduleTime: BenchT0, NextAttempt: late}},
	}); err == nil {
		t.Fatal("UpdateManuals accepted a time it cannot store")
	}
	ms, err := s.ListManuals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Exec.Attempts != 0 || !ms[1].Exec.NextAttempt.IsZero() {
		t.Fatalf("manual executions after a failed call: %+v", ms)
	}
}
