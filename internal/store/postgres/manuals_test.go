package postgres

import (
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"github.com/oidcron/oidcron/internal/store"
)

// TestHeartbeatKeepsManualOwners: Heartbeat's garbage collection keeps a
// long-dead replica while it owns a manual execution (as it does one that
// owns a job's), and forgets it once that is taken over.
func TestHeartbeatKeepsManualOwners(t *testing.T) {
	s := openFresh(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	name := "projects/p1/locations/us-central1/jobs/j"
	if err := s.CreateJob(ctx, store.JobRecord{Job: &schedulerpb.Job{Name: name}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddManual(ctx, store.Manual{Job: name, Incarnation: 1, Exec: store.Execution{ScheduleTime: t0, Owner: "owner"}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"idle", "owner", "taker"} {
		mustHeartbeat(t, s, r, time.Hour)
	}
	// Both retired (gone long ago, to the garbage collection).
	for _, r := range []string{"idle", "owner"} {
		if err := s.Retire(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	registered := func() []string { return registeredReplicas(t, s) }
	mustHeartbeat(t, s, "taker", time.Hour)
	if got, want := registered(), []string{"owner", "taker"}; !slices.Equal(got, want) {
		t.Fatalf("replicas after a heartbeat: %q, want %q (the owner of a manual execution kept)", got, want)
	}
	got, err := s.ClaimManuals(ctx, "taker", t0, 10)
	if err != nil || len(got) != 1 || !got[0].Orphan {
		t.Fatalf("taking over the retired owner's manual execution: %+v, %v", got, err)
	}
	mustHeartbeat(t, s, "taker", time.Hour)
	if got, want := registered(), []string{"taker"}; !slices.Equal(got, want) {
		t.Fatalf("replicas after the takeover: %q, want %q", got, want)
	}
}
