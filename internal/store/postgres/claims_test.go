package postgres

import (
	"errors"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"github.com/jackc/pgx/v5"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/postgres/pgtest"
	"github.com/oidcron/oidcron/internal/store/storetest"
)

func TestClaimerConformance(t *testing.T) {
	url := pgtest.NewDatabase(t)
	storetest.RunClaimer(t,
		func(t *testing.T) storetest.ClaimerStore { return emptied(t, url) },
		// Another replica: a pool of its own on the same database.
		func(t *testing.T, _ storetest.ClaimerStore) storetest.ClaimerStore { return openURL(t, url) })
}

// claimAll claims every job offered, for owner.
func claimAll(owner string) func(store.JobRecord) (store.JobState, bool) {
	return func(r store.JobRecord) (store.JobState, bool) {
		e := store.Execution{ScheduleTime: r.DueTime, Owner: owner}
		return store.JobState{NextFire: r.NextFire, DueTime: r.DueTime, Exec: &e}, true
	}
}

func claimJob(t *testing.T, s *Store, id string, due time.Time, owner string) {
	t.Helper()
	r := store.JobRecord{Job: &schedulerpb.Job{Name: "projects/p1/locations/us-central1/jobs/" + id}, DueTime: due}
	if owner != "" {
		r.Exec = &store.Execution{ScheduleTime: due, Owner: owner}
	}
	if err := s.CreateJob(t.Context(), r); err != nil {
		t.Fatal(err)
	}
}

func mustHeartbeat(t *testing.T, s *Store, owner string, lease time.Duration) time.Time {
	t.Helper()
	now, err := s.Heartbeat(t.Context(), owner, lease)
	if err != nil {
		t.Fatal(err)
	}
	return now
}

// TestClaimNeedsLiveHeartbeat: an owner that never beat, or retired,
// claims nothing and its plan is never asked.
func TestClaimNeedsLiveHeartbeat(t *testing.T) {
	s := openFresh(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	claimJob(t, s, "due", t0, "")
	asked := 0
	plan := func(r store.JobRecord) (store.JobState, bool) {
		asked++
		return claimAll("r")(r)
	}
	if got, err := s.ClaimJobs(ctx, "r", t0, 10, plan); err == nil || !errors.Is(err, errNotLive) {
		t.Fatalf("ClaimJobs without a heartbeat: %v, %v; want errNotLive", jobNamesOf(got), err)
	}
	mustHeartbeat(t, s, "r", time.Hour)
	if err := s.Retire(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClaimJobs(ctx, "r", t0, 10, plan); !errors.Is(err, errNotLive) {
		t.Fatalf("ClaimJobs after Retire: %v, %v; want errNotLive", jobNamesOf(got), err)
	}
	if asked != 0 {
		t.Fatalf("plan was asked %d times for an owner without a live heartbeat", asked)
	}
	// Beating again makes it live again.
	mustHeartbeat(t, s, "r", time.Hour)
	got, err := s.ClaimJobs(ctx, "r", t0, 10, plan)
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimJobs after a new heartbeat: %v, %v", jobNamesOf(got), err)
	}
}

// TestUnregisteredOwnerIsDead: a job whose owner never beat (its execution
// written by UpdateJob, UpdateJobStates or CreateJob, or a replica
// forgotten by the garbage collection) is an orphan, not stuck.
func TestUnregisteredOwnerIsDead(t *testing.T) {
	s := openFresh(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	claimJob(t, s, "ghost-owned", t0.Add(time.Hour), "ghost")
	claimJob(t, s, "live-owned", t0.Add(-time.Hour), "live")
	mustHeartbeat(t, s, "live", time.Hour)
	mustHeartbeat(t, s, "taker", time.Hour)
	got, err := s.ClaimJobs(t.Context(), "taker", t0, 10, claimAll("taker"))
	if err != nil {
		t.Fatal(err)
	}
	if names := jobNamesOf(got); !slices.Equal(names, []string{"projects/p1/locations/us-central1/jobs/ghost-owned"}) {
		t.Fatalf("claimed %q, want only the unregistered owner's job", names)
	}
}

// TestHeartbeatForgetsOldReplicas: Heartbeat removes the replicas whose
// lease ended long ago (gcAfter) and that own nothing, and keeps the
// others: recently expired ones, and those whose jobs no one took over
// yet.
func TestHeartbeatForgetsOldReplicas(t *testing.T) {
	s := openFresh(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	registered := func() []string { return registeredReplicas(t, s) }
	for _, r := range []string{"idle", "owner", "recent", "taker"} {
		mustHeartbeat(t, s, r, time.Hour)
	}
	claimJob(t, s, "owned", t0, "owner")
	for _, r := range []string{"idle", "owner"} {
		if err := s.Retire(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// "recent" stopped beating a moment ago: past its lease, not gcAfter.
	if _, err := s.pool.Exec(ctx, `UPDATE replicas SET lease_until = now() - interval '1 second' WHERE name = 'recent'`); err != nil {
		t.Fatal(err)
	}
	mustHeartbeat(t, s, "taker", time.Hour)
	if got, want := registered(), []string{"owner", "recent", "taker"}; !slices.Equal(got, want) {
		t.Fatalf("replicas after a heartbeat: %q, want %q (the retired one that owns nothing forgotten)", got, want)
	}
	// Once its job is taken over, the retired owner is forgotten too.
	got, err := s.ClaimJobs(ctx, "taker", t0, 10, claimAll("taker"))
	if err != nil || len(got) != 1 {
		t.Fatalf("taking over the retired owner's job: %v, %v", jobNamesOf(got), err)
	}
	mustHeartbeat(t, s, "taker", time.Hour)
	if got, want := registered(), []string{"recent", "taker"}; !slices.Equal(got, want) {
		t.Fatalf("replicas after the takeover: %q, want %q", got, want)
	}
}

func jobNamesOf(rs []store.JobRecord) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Job.GetName())
	}
	return out
}

// TestStallDoesNotOrphanLiveReplicas: a stall that every replica's
// heartbeats went through (their leases all expired) does not make the
// first replica back take the others' jobs; once it has beaten for a
// whole lease of the other's, the other, still silent, is dead.
func TestStallDoesNotOrphanLiveReplicas(t *testing.T) {
	s := openFresh(t)
	ctx := t.Context()
	const lease = 300 * time.Millisecond
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	claimJob(t, s, "a-owned", t0, "a")
	mustHeartbeat(t, s, "a", lease)
	last := mustHeartbeat(t, s, "b", lease)
	// The stall: nobody beats until both leases have ended. The store's
	// clock is read through a third name, which owns nothing.
	deadline := time.Now().Add(30 * time.Second)
	for now := last; now.Sub(last) <= lease; now = mustHeartbeat(t, s, "clock", time.Hour) {
		if time.Now().After(deadline) {
			t.Fatal("the store's clock did not advance")
		}
	}
	back := mustHeartbeat(t, s, "b", lease) // b is back first
	got, err := s.ClaimJobs(ctx, "b", t0, 10, claimAll("b"))
	if err != nil || len(got) != 0 {
		t.Fatalf("b claimed %v (%v) right after the stall: a had no time to beat again", jobNamesOf(got), err)
	}
	// a stays silent; b beats on through a's lease.
	for now := back; now.Sub(back) <= lease; now = mustHeartbeat(t, s, "b", lease) {
		if time.Now().After(deadline) {
			t.Fatal("the store's clock did not advance")
		}
	}
	got, err = s.ClaimJobs(ctx, "b", t0, 10, claimAll("b"))
	if err != nil || !slices.Equal(jobNamesOf(got), []string{"projects/p1/locations/us-central1/jobs/a-owned"}) {
		t.Fatalf("b claimed %v (%v) after a lease of a's silence, want a's job", jobNamesOf(got), err)
	}
}

// TestOwnedJobs lists one owner's jobs, by name, and nobody else's.
func TestOwnedJobs(t *testing.T) {
	s := openFresh(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	claimJob(t, s, "b2", t0, "a")
	claimJob(t, s, "b1", t0, "a")
	claimJob(t, s, "other", t0, "z")
	claimJob(t, s, "free", t0, "")
	got, err := s.OwnedJobs(t.Context(), "a")
	want := []string{"projects/p1/locations/us-central1/jobs/b1", "projects/p1/locations/us-central1/jobs/b2"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("OwnedJobs(a) = %v, %v; want %v", got, err, want)
	}
	if got, err := s.OwnedJobs(t.Context(), "nobody"); err != nil || len(got) != 0 {
		t.Fatalf("OwnedJobs(nobody) = %v, %v", got, err)
	}
}

// registeredReplicas is the names in the replicas table, by name.
func registeredReplicas(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), `SELECT name FROM replicas ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}
