package storetest

import (
	"testing"
	"time"

	"github.com/oidcron/oidcron/internal/store"
)

// RunTimeRange checks a store whose times are int64 nanoseconds (years
// 1678 to 2262), as both SQL backends keep them: UpdateJobStates with one
// state outside that range fails the call before anything of it is
// written. It is not part of Run, since a store in memory has no such
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
}
