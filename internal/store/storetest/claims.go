package storetest

import (
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"testing"
	"time"

	statuspb "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/oidcron/oidcron/internal/store"
)

// ClaimerStore is a store with claims.
type ClaimerStore interface {
	store.Store
	store.Claimer
}

// RunClaimer runs the suite of store.Claimer: the claims by which replicas
// sharing one database divide its jobs among them. open must return a new,
// empty store each time and close it when the test ends; openShared must
// return a second, independent handle on s's database (connections of its
// own, as another replica would have), also closed when the test ends.
// Subtests do not run in parallel.
//
// Liveness is judged by the store's clock, so the one subtest about an
// expiring heartbeat waits, on the store's clock, for a lease of 300ms.
func RunClaimer(t *testing.T, open func(t *testing.T) ClaimerStore, openShared func(t *testing.T, s ClaimerStore) ClaimerStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ClaimerStore, second func() ClaimerStore)
	}{
		{"HeartbeatClock", testHeartbeatClock},
		{"ClaimDue", testClaimDue},
		{"ClaimOwned", testClaimOwned},
		{"ClaimOwnerWrites", testClaimOwnerWrites},
		{"ClaimDeleteAndUpdate", testClaimDeleteAndUpdate},
		{"ClaimOrphans", testClaimOrphans},
		{"ClaimRetire", testClaimRetire},
		{"ClaimSkipLocked", testClaimSkipLocked},
		{"ClaimExactlyOnce", testClaimExactlyOnce},
		{"ClaimLastSlot", testClaimLastSlot},
		{"ClaimManualsDue", testClaimManualsDue},
		{"ClaimManualsLive", testClaimManualsLive},
		{"ClaimManualsOrphans", testClaimManualsOrphans},
		{"ClaimManualsNextDue", testClaimManualsNextDue},
		{"ClaimManualsSkipLocked", testClaimManualsSkipLocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			tt.fn(t, s, func() ClaimerStore { return openShared(t, s) })
		})
	}
}

// longLease outlasts every subtest: an owner with it is alive throughout.
const longLease = time.Hour

// claimWait bounds every wait of the suite for the store.
const claimWait = 30 * time.Second

// ---- Fixtures ----

func claimName(id string) string { return jobName("p1", "us-central1", id) }

func claimNames(ids ...string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = claimName(id)
	}
	return out
}

// dueJob is a whole job due at due (zero: nothing due) whose execution
// belongs to owner ("": to no one).
func dueJob(id string, seed int, due time.Time, owner string) store.JobRecord {
	r := jobRecord("p1", "us-central1", id, seed)
	r.DueTime = due
	r.Exec.Owner = owner
	return r
}

// withoutExec is r with no execution in flight.
func withoutExec(r store.JobRecord) store.JobRecord {
	r.Exec = nil
	return r
}

// claimedState is the engine's state of a job it claims at now: its first
// attempt is due at once (at the job's due time, or now if it had none or
// a later one), so that only the owner keeps the job from being due to
// everyone. It sets a result too, so that the test sees ClaimJobs write
// every part of a state. The Version is wrong on purpose: ClaimJobs must
// ignore it. The execution's LeaseUntil lies before the store's clock (the
// fixtures' clock is in the past): liveness is the heartbeat's, not the
// execution's.
func claimedState(r store.JobRecord, owner string, now time.Time) store.JobState {
	due := r.DueTime
	if due.IsZero() || due.After(now) {
		due = now
	}
	return store.JobState{
		Name:         r.Job.GetName(),
		Version:      r.Version + 100,
		NextFire:     due.Add(time.Hour).In(zoneEast),
		DueTime:      due,
		ScheduleTime: due.Add(time.Hour),
		Exec: &store.Execution{
			ScheduleTime: due,
			FirstAttempt: due.Add(time.Nanosecond),
			NextAttempt:  due,
			Owner:        owner,
			LeaseUntil:   now.Add(time.Minute),
			// One per owner, none of the fixtures' (jobRecord): a claim
			// that left the stored token, or wrote another's, shows.
			Claim: claimToken(owner),
		},
		Result: &store.JobResult{Status: &statuspb.Status{Code: 10, Message: "claimed by " + owner}, LastAttemptTime: due.In(zoneWest)},
	}
}

// claimToken is owner's Execution.Claim in claimedState: a positive
// 63-bit value, as a replica's random tokens are.
func claimToken(owner string) int64 {
	h := fnv.New64a()
	h.Write([]byte(owner))
	return int64(h.Sum64() >> 1)
}

// planner is ClaimJobs' plan for one owner: it claims the jobs take
// accepts (every job when take is nil) with claimedState, changed by edit
// when set, and keeps what it was offered and what it wrote.
type planner struct {
	owner string
	now   time.Time
	take  func(store.JobRecord) bool
	edit  func(*store.JobState)

	offered []store.JobRecord
	states  map[string]store.JobState
	noJob   int // records offered without their Job message
}

func newPlanner(owner string, now time.Time) *planner {
	return &planner{owner: owner, now: now, states: map[string]store.JobState{}}
}

func (p *planner) plan(r store.JobRecord) (store.JobState, bool) {
	if r.Job == nil {
		p.noJob++
		return store.JobState{}, false
	}
	p.offered = append(p.offered, cloneJob(r))
	if p.take != nil && !p.take(r) {
		return store.JobState{}, false
	}
	st := claimedState(r, p.owner, p.now)
	if p.edit != nil {
		p.edit(&st)
	}
	p.states[st.Name] = st
	return st, true
}

func refuseAll(store.JobRecord) bool { return false }

// ---- Helpers ----

func createJobs(t *testing.T, st store.JobStore, recs ...store.JobRecord) {
	t.Helper()
	for _, r := range recs {
		ok(t, st.CreateJob(t.Context(), r), "CreateJob "+r.Job.GetName())
	}
}

func heartbeat(t *testing.T, c store.Claimer, owner string, lease time.Duration) time.Time {
	t.Helper()
	now, err := c.Heartbeat(t.Context(), owner, lease)
	ok(t, err, fmt.Sprintf("Heartbeat(%s, %v)", owner, lease))
	return now
}

func checkNextDue(t *testing.T, c store.Claimer, want time.Time, what string) {
	t.Helper()
	got, err := c.NextDue(t.Context())
	ok(t, err, "NextDue "+what)
	sameTime(t, got, want, "NextDue "+what)
}

func updateStates(t *testing.T, st store.JobStore, states ...store.JobState) {
	t.Helper()
	refused, err := st.UpdateJobStates(t.Context(), states)
	ok(t, err, "UpdateJobStates")
	if len(refused) != 0 {
		t.Fatalf("UpdateJobStates refused %v", refused)
	}
}

// snapshot is every job of the store by name.
func snapshot(t *testing.T, st store.JobStore) map[string]store.JobRecord {
	t.Helper()
	all, err := st.ScanJobs(t.Context(), store.Page{})
	ok(t, err, "ScanJobs")
	out := make(map[string]store.JobRecord, len(all))
	for _, r := range all {
		out[r.Job.GetName()] = r
	}
	return out
}

// sameNames compares names in order, or as sets when the order is not
// the contract's.
func sameNames(t *testing.T, got, want []string, inOrder bool, what string) {
	t.Helper()
	g, w := got, want
	if !inOrder {
		g, w = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	}
	if !slices.Equal(g, w) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// claimStep calls ClaimJobs once with p and checks everything it did: the
// jobs offered to plan (whole, as stored), the jobs claimed, each returned
// as written (Version one larger, p's state applied) and stored so, and
// every other job left exactly as it was (refused ones included).
func claimStep(t *testing.T, s ClaimerStore, p *planner, limit int, wantOffered, wantClaimed []string, inOrder bool) []store.JobRecord {
	t.Helper()
	before := snapshot(t, s)
	p.offered, p.states, p.noJob = nil, map[string]store.JobState{}, 0
	what := fmt.Sprintf("ClaimJobs(%s, %s, %d)", p.owner, p.now.Format(time.RFC3339Nano), limit)
	got, err := s.ClaimJobs(t.Context(), p.owner, p.now, limit, p.plan)
	ok(t, err, what)
	if p.noJob > 0 {
		t.Fatalf("%s: plan was given %d records without their Job message", what, p.noJob)
	}
	sameNames(t, jobNames(p.offered), wantOffered, inOrder, what+": offered to plan")
	for _, r := range p.offered {
		b := before[r.Job.GetName()]
		sameJob(t, r, b, b.Version, what+": offered "+r.Job.GetName())
		if r.Incarnation != b.Incarnation {
			t.Fatalf("%s: offered %s with Incarnation %d, want %d", what, r.Job.GetName(), r.Incarnation, b.Incarnation)
		}
	}
	sameNames(t, jobNames(got), wantClaimed, inOrder, what+": claimed")
	claimed := map[string]bool{}
	for _, r := range got {
		n := r.Job.GetName()
		b, st := before[n], p.states[n]
		want := withState(b, st)
		sameJob(t, r, want, b.Version+1, what+": returned "+n)
		if r.Incarnation != b.Incarnation {
			t.Fatalf("%s: returned %s with Incarnation %d, want %d", what, n, r.Incarnation, b.Incarnation)
		}
		checkJob(t, s, want, b.Version+1, what+": GetJob "+n)
		claimed[n] = true
	}
	after := snapshot(t, s)
	if len(after) != len(before) {
		t.Fatalf("%s: %d jobs before, %d after", what, len(before), len(after))
	}
	for n, b := range before {
		if !claimed[n] {
			sameJob(t, after[n], b, b.Version, what+": not claimed "+n)
		}
	}
	return got
}

// waitStoreClock heartbeats owner (with longLease) until the store's
// clock is past until: liveness is judged by that clock, which the test
// cannot read any other way.
func waitStoreClock(t *testing.T, c store.Claimer, owner string, until time.Time) {
	t.Helper()
	deadline := time.Now().Add(claimWait)
	// A poll, not a sleep: the condition is the store's clock.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		now := heartbeat(t, c, owner, longLease)
		if now.After(until) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store's clock did not pass %s within %v (last %s)", until.Format(time.RFC3339Nano), claimWait, now.Format(time.RFC3339Nano))
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatal("test ended while waiting for the store's clock")
		}
	}
}

// ---- Tests ----

func testHeartbeatClock(t *testing.T, s ClaimerStore, second func() ClaimerStore) {
	other := second()
	first := heartbeat(t, s, "r1", longLease)
	again := heartbeat(t, s, "r1", longLease)
	another := heartbeat(t, other, "r2", longLease)
	for _, c := range []struct {
		what string
		at   time.Time
	}{{"first", first}, {"again", again}, {"from the other handle", another}} {
		if d := time.Since(c.at); d > time.Minute || d < -time.Minute {
			t.Fatalf("Heartbeat %s: store clock %s is %v away from this machine's", c.what, c.at.Format(time.RFC3339Nano), d)
		}
	}
	if again.Before(first) || another.Before(again) {
		t.Fatalf("the store's clock went back: %s, then %s, then %s", first.Format(time.RFC3339Nano),
			again.Format(time.RFC3339Nano), another.Format(time.RFC3339Nano))
	}
}

// testClaimDue checks which jobs are due to a claimer, in which order, up
// to the limit, and what a claim or a refusal by plan writes.
func testClaimDue(t *testing.T, s ClaimerStore, _ func() ClaimerStore) {
	at := jobBase // the claimer's clock, not the store's
	heartbeat(t, s, "me", longLease)
	heartbeat(t, s, "live", longLease)
	createJobs(t, s,
		dueJob("c", 1, at.Add(-time.Hour), ""), // an execution without an owner: due
		withoutExec(dueJob("future", 2, at.Add(1), "")),
		withoutExec(dueJob("a", 3, at.Add(-time.Hour).In(zoneEast), "")),
		withoutExec(dueJob("idle", 4, time.Time{}, "")),
		dueJob("b", 5, at.In(time.UTC), ""), // due exactly now
		dueJob("owned", 6, at.Add(-2*time.Hour), "live"),
		dueJob("mine", 7, at.Add(-3*time.Hour), "me"),
		withoutExec(dueJob("e", 8, at.Add(-30*time.Minute), "")),
		dueJob("d", 9, at.Add(-30*time.Minute), ""),
	)
	p := newPlanner("me", at)
	// The limit takes the first by DueTime, then name.
	claimStep(t, s, p, 2, claimNames("a", "c"), claimNames("a", "c"), true)
	// A job plan refuses is left as it was and not returned; a state
	// without a result leaves the Job's status as stored.
	p.take = func(r store.JobRecord) bool { return r.Job.GetName() != claimName("d") }
	p.edit = func(st *store.JobState) {
		if st.Name == claimName("b") {
			st.Result = nil
		}
	}
	claimStep(t, s, p, 10, claimNames("d", "e", "b"), claimNames("e", "b"), true)
	p.take, p.edit = nil, nil
	// Claimed jobs are due now but owned: only the refused one is offered.
	claimStep(t, s, p, 10, claimNames("d"), claimNames("d"), true)
	claimStep(t, s, p, 10, nil, nil, true)
	// The due time is compared with the claimer's now, inclusive.
	p.now = at.Add(1).In(zoneEast)
	claimStep(t, s, p, 10, claimNames("future"), claimNames("future"), true)
	// A job with no due time is never due; owned ones never are.
	p.now = at.Add(1000 * time.Hour)
	claimStep(t, s, p, 10, nil, nil, true)
}

// testClaimOwned checks that a job claimed by a live owner is no one
// else's, and NextDue.
func testClaimOwned(t *testing.T, s ClaimerStore, second func() ClaimerStore) {
	at := jobBase
	b := second()
	heartbeat(t, s, "A", longLease)
	heartbeat(t, b, "B", longLease)
	checkNextDue(t, s, time.Time{}, "of an empty store")
	createJobs(t, s,
		withoutExec(dueJob("j1", 1, at.Add(-2*time.Hour), "")),
		dueJob("j2", 2, at.Add(-time.Hour), ""),
		dueJob("j3", 3, at.Add(time.Hour), ""),
		withoutExec(dueJob("j4", 4, time.Time{}, "")),
	)
	checkNextDue(t, b, at.Add(-2*time.Hour), "of unowned jobs")
	pa := newPlanner("A", at)
	claimStep(t, s, pa, 1, claimNames("j1"), claimNames("j1"), true)
	// j1 is A's, still due at its slot, earlier than j2: owned, it is not
	// NextDue's, nor offered to B.
	checkNextDue(t, b, at.Add(-time.Hour), "with j1 owned")
	heartbeat(t, s, "A", longLease) // again, as a replica does
	pb := newPlanner("B", at)
	claimStep(t, b, pb, 10, claimNames("j2"), claimNames("j2"), true)
	checkNextDue(t, s, at.Add(time.Hour), "with j1 and j2 owned")
	pb.now = at.Add(time.Hour)
	claimStep(t, b, pb, 10, claimNames("j3"), claimNames("j3"), true)
	checkNextDue(t, s, time.Time{}, "with every job with a due time owned")
	// A's own job is not an orphan to A, nor is B's (alive) to A.
	pa.now = at.Add(1000 * time.Hour)
	claimStep(t, s, pa, 10, nil, nil, true)

	// A ends j1's execution: no owner, due at the next slot, to anyone.
	j1, err := s.GetJob(t.Context(), claimName("j1"))
	ok(t, err, "GetJob j1")
	updateStates(t, s, store.JobState{Name: claimName("j1"), Version: j1.Version, NextFire: at.Add(5 * time.Hour), DueTime: at.Add(5 * time.Hour)})
	checkNextDue(t, b, at.Add(5*time.Hour), "after j1's execution ended")
	pb.now = at.Add(5 * time.Hour)
	claimStep(t, b, pb, 10, claimNames("j1"), claimNames("j1"), true)
	checkNextDue(t, s, time.Time{}, "with every job owned again")
}

// testClaimOwnerWrites checks that every write of a job keeps its owner:
// an owner set by UpdateJobStates, UpdateJob or CreateJob is stored, read
// back and keeps the job from others; cleared, the job is due again.
func testClaimOwnerWrites(t *testing.T, s ClaimerStore, second func() ClaimerStore) {
	at := jobBase
	b := second()
	heartbeat(t, s, "X", longLease)
	heartbeat(t, b, "Y", longLease)
	due := at.Add(-time.Hour)
	r := withoutExec(dueJob("j", 1, due, ""))
	createJobs(t, s, r)
	py := newPlanner("Y", at)

	own := store.JobState{Name: claimName("j"), Version: 1, NextFire: at.Add(time.Hour), DueTime: due, ScheduleTime: at.Add(time.Hour),
		Exec: &store.Execution{ScheduleTime: due, Attempts: 1, FirstAttempt: due, NextAttempt: due, Owner: "X", LeaseUntil: at.Add(time.Minute)}}
	updateStates(t, s, own)
	want := withState(r, own)
	checkJob(t, b, want, 2, "owner set by UpdateJobStates, read by the other handle")
	checkNextDue(t, b, time.Time{}, "with the job owned by UpdateJobStates")
	claimStep(t, b, py, 10, nil, nil, true)

	free := own
	free.Version = 2
	e := *own.Exec
	e.Owner = ""
	free.Exec = &e
	updateStates(t, s, free)
	want = withState(want, free)
	checkJob(t, b, want, 3, "owner cleared by UpdateJobStates")
	checkNextDue(t, b, due, "with the owner cleared by UpdateJobStates")
	py.take = refuseAll
	claimStep(t, b, py, 10, claimNames("j"), nil, true)
	py.take = nil

	// The API's full write of the record sets and clears it too.
	full := cloneJob(want)
	full.Job.Description = "written by the API"
	full.Exec.Owner = "X"
	ok(t, s.UpdateJob(t.Context(), full, 3), "UpdateJob with an owner")
	checkJob(t, b, full, 4, "owner set by UpdateJob")
	checkNextDue(t, b, time.Time{}, "with the job owned by UpdateJob")
	claimStep(t, b, py, 10, nil, nil, true)
	full.Exec = nil
	ok(t, s.UpdateJob(t.Context(), full, 4), "UpdateJob without an execution")
	checkNextDue(t, b, due, "with the execution removed by UpdateJob")
	claimStep(t, b, py, 10, claimNames("j"), claimNames("j"), true)

	// A job created with a live owner is that owner's.
	createJobs(t, s, dueJob("k", 2, at.Add(-2*time.Hour), "X"))
	checkNextDue(t, b, time.Time{}, "with a job created owned")
	claimStep(t, b, py, 10, nil, nil, true)
}

// testClaimDeleteAndUpdate checks that a deleted job is never claimed and
// that a job rewritten by the API after a claim is claimed at its new
// Version.
func testClaimDeleteAndUpdate(t *testing.T, s ClaimerStore, _ func() ClaimerStore) {
	ctx := t.Context()
	at := jobBase
	heartbeat(t, s, "A", longLease)
	heartbeat(t, s, "B", longLease)
	createJobs(t, s,
		dueJob("j1", 1, at.Add(-3*time.Hour), ""),
		dueJob("j2", 2, at.Add(-2*time.Hour), ""),
		withoutExec(dueJob("j3", 3, at.Add(-time.Hour), "")),
	)
	ok(t, s.DeleteJob(ctx, claimName("j1")), "DeleteJob j1")
	checkNextDue(t, s, at.Add(-2*time.Hour), "after a delete")
	pa := newPlanner("A", at)
	claimStep(t, s, pa, 1, claimNames("j2"), claimNames("j2"), true)
	// Created again under the name: another incarnation, claimed at its
	// own versions (2 then 3: past the deleted one's).
	createJobs(t, s, dueJob("j1", 4, at.Add(-3*time.Hour), ""))
	got := claimStep(t, s, pa, 1, claimNames("j1"), claimNames("j1"), true)
	if got[0].Version != 3 {
		t.Fatalf("the re-created j1 claimed at Version %d, want 3", got[0].Version)
	}
	// A deleted job that was owned is gone, not an orphan.
	ok(t, s.DeleteJob(ctx, claimName("j2")), "DeleteJob j2 (owned by A)")

	// The API rewrites j1 while A owns it, dropping the execution: the
	// claim that follows reads and writes the new Version.
	j1, err := s.GetJob(ctx, claimName("j1"))
	ok(t, err, "GetJob j1")
	j1.Job.Description = "edited after the claim"
	j1.Exec, j1.DueTime = nil, at.Add(-time.Minute)
	ok(t, s.UpdateJob(ctx, j1, 3), "UpdateJob j1 after the claim")
	pb := newPlanner("B", at)
	got = claimStep(t, s, pb, 10, claimNames("j3", "j1"), claimNames("j3", "j1"), true)
	if got[1].Version != 5 || got[1].Job.GetDescription() != "edited after the claim" {
		t.Fatalf("j1 claimed at Version %d with description %q, want 5 and the API's", got[1].Version, got[1].Job.GetDescription())
	}
	// The engine's state written with the Version read before the claim
	// is refused: the claim made it one larger.
	refused, err := s.UpdateJobStates(ctx, []store.JobState{{Name: claimName("j1"), Version: 4}})
	ok(t, err, "UpdateJobStates with the version before the claim")
	if !slices.Equal(refused, []int{0}) {
		t.Fatalf("UpdateJobStates with the version before the claim: refused %v, want [0]", refused)
	}
	ok(t, s.Retire(ctx, "A"), "Retire A")
	claimStep(t, s, pb, 10, nil, nil, true)
}

// testClaimOrphans checks that the jobs of an owner whose heartbeat has
// expired by the store's clock go to the next claimer, before due jobs,
// whatever their due time.
func testClaimOrphans(t *testing.T, s ClaimerStore, second func() ClaimerStore) {
	const lease = 300 * time.Millisecond
	at := jobBase
	b := second()
	heartbeat(t, b, "B", longLease)
	// The executions' own leases are far ahead of the store's clock:
	// liveness is the owner's heartbeat alone.
	leased := func(r store.JobRecord) store.JobRecord {
		r.Exec.LeaseUntil = time.Now().Add(24 * time.Hour)
		return r
	}
	createJobs(t, s,
		leased(dueJob("a-future", 1, at.Add(1000*time.Hour), "A")),
		leased(dueJob("a-idle", 2, time.Time{}, "A")),
		leased(dueJob("a-due", 3, at.Add(-time.Hour), "A")),
		leased(dueJob("renewed", 4, at.Add(-4*time.Hour), "R")),
		withoutExec(dueJob("d1", 5, at.Add(-3*time.Hour), "")),
		dueJob("d2", 6, at.Add(-2*time.Hour), ""),
		dueJob("b-own", 7, at.Add(-5*time.Hour), "B"),
	)
	// R's first heartbeat is as short as A's, but R renews it.
	heartbeat(t, s, "R", lease)
	heartbeat(t, s, "R", longLease)
	lastA := heartbeat(t, s, "A", lease)

	// While A's heartbeat lasts its jobs are no one else's. The check
	// holds only if the claim surely ran within A's lease, by the store's
	// clock; plan refuses, so that nothing is taken.
	p := newPlanner("B", at)
	p.take = refuseAll
	_, err := b.ClaimJobs(t.Context(), "B", at, 10, p.plan)
	ok(t, err, "ClaimJobs while A is alive")
	if after := heartbeat(t, b, "B", longLease); after.Before(lastA.Add(lease - 10*time.Millisecond)) {
		sameNames(t, jobNames(p.offered), claimNames("d1", "d2"), true, "ClaimJobs while A is alive: offered to plan")
	} else {
		t.Logf("A's heartbeat may have expired during the check; checked only B's own job (store clock %s, A's heartbeat %s)",
			after.Format(time.RFC3339Nano), lastA.Format(time.RFC3339Nano))
		if slices.Contains(jobNames(p.offered), claimName("b-own")) {
			t.Fatalf("B was offered its own job: %q", jobNames(p.offered))
		}
	}

	// A stops heartbeating. Once its lease has passed by the store's clock
	// (with a margin for a store that times the lease from a later
	// reading than the one Heartbeat returned), its jobs are orphans:
	// first, whatever their due time, and to B.
	waitStoreClock(t, b, "B", lastA.Add(lease+10*time.Millisecond))
	p.take = nil
	orphans := claimNames("a-future", "a-idle", "a-due")
	claimStep(t, b, p, 3, orphans, orphans, false)
	// Then the due jobs; B's own job and the renewed owner's are not orphans.
	claimStep(t, b, p, 10, claimNames("d1", "d2"), claimNames("d1", "d2"), true)
	claimStep(t, b, p, 10, nil, nil, true)
}

// testClaimRetire checks that Retire orphans an owner's jobs at once, and
// only its own.
func testClaimRetire(t *testing.T, s ClaimerStore, second func() ClaimerStore) {
	at := jobBase
	b := second()
	heartbeat(t, s, "A", longLease)
	heartbeat(t, b, "B", longLease)
	heartbeat(t, s, "C", longLease)
	createJobs(t, s,
		dueJob("j1", 1, at.Add(-4*time.Hour), ""),
		withoutExec(dueJob("j2", 2, at.Add(-3*time.Hour), "")),
		dueJob("j3", 3, at.Add(-2*time.Hour), ""),
		dueJob("j4", 4, at.Add(-time.Hour), ""),
		dueJob("c-own", 5, at.Add(-5*time.Hour), "C"),
	)
	pa := newPlanner("A", at)
	claimStep(t, s, pa, 2, claimNames("j1", "j2"), claimNames("j1", "j2"), true)
	pb := newPlanner("B", at)
	claimStep(t, b, pb, 10, claimNames("j3", "j4"), claimNames("j3", "j4"), true)
	claimStep(t, b, pb, 10, nil, nil, true)
	ok(t, s.Retire(t.Context(), "A"), "Retire A")
	// No waiting for A's lease; C's job stays C's.
	claimStep(t, b, pb, 10, claimNames("j1", "j2"), claimNames("j1", "j2"), false)
	claimStep(t, b, pb, 10, nil, nil, true)
}

// testClaimSkipLocked checks that a claim skips the jobs another claim's
// transaction holds instead of waiting for them.
func testClaimSkipLocked(t *testing.T, s ClaimerStore, second func() ClaimerStore) {
	ctx := t.Context()
	at := jobBase
	b := second()
	heartbeat(t, s, "holder", longLease)
	heartbeat(t, b, "other", longLease)
	recs := map[string]store.JobRecord{}
	for i := range 6 {
		r := dueJob(fmt.Sprintf("j%d", i), i, at.Add(time.Duration(i-6)*time.Second), "")
		createJobs(t, s, r)
		recs[r.Job.GetName()] = cloneJob(r)
	}

	type result struct {
		recs []store.JobRecord
		err  error
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var enterOnce, releaseOnce sync.Once
	releaseHolder := func() { releaseOnce.Do(func() { close(release) }) }
	held, other := make(chan result, 1), make(chan result, 1)
	var wg sync.WaitGroup
	// Whatever fails, the holder is let go and both claims end before the
	// stores close (cleanups run last registered first).
	t.Cleanup(func() { releaseHolder(); wg.Wait() })
	wg.Go(func() {
		got, err := s.ClaimJobs(ctx, "holder", at, 1, func(r store.JobRecord) (store.JobState, bool) {
			enterOnce.Do(func() { close(entered) })
			select {
			case <-release:
			case <-ctx.Done():
			}
			return claimedState(r, "holder", at), true
		})
		held <- result{got, err}
	})
	deadline := time.NewTimer(claimWait)
	defer deadline.Stop()
	select {
	case <-entered:
	case r := <-held:
		t.Fatalf("the holder's ClaimJobs returned %q, %v without calling plan", jobNames(r.recs), r.err)
	case <-deadline.C:
		t.Fatalf("the holder's plan was not called within %v", claimWait)
	}

	// The holder's transaction holds j0 now. The other replica's claim
	// skips it and takes the next two.
	var offered []string
	wg.Go(func() {
		got, err := b.ClaimJobs(ctx, "other", at, 2, func(r store.JobRecord) (store.JobState, bool) {
			offered = append(offered, r.Job.GetName())
			return claimedState(r, "other", at), true
		})
		other <- result{got, err}
	})
	select {
	case r := <-other:
		ok(t, r.err, "the other's ClaimJobs while the holder holds j0")
		sameNames(t, offered, claimNames("j1", "j2"), true, "offered to the other while the holder holds j0")
		sameNames(t, jobNames(r.recs), claimNames("j1", "j2"), true, "claimed by the other while the holder holds j0")
	case <-deadline.C:
		releaseHolder()
		t.Fatalf("the other's ClaimJobs waited %v for the holder's transaction instead of skipping the job it holds", claimWait)
	}

	releaseHolder()
	select {
	case r := <-held:
		ok(t, r.err, "the holder's ClaimJobs")
		sameNames(t, jobNames(r.recs), claimNames("j0"), true, "claimed by the holder")
	case <-deadline.C:
		t.Fatalf("the holder's ClaimJobs did not end within %v of its plan's release", claimWait)
	}
	for n, owner := range map[string]string{claimName("j0"): "holder", claimName("j1"): "other", claimName("j2"): "other"} {
		r := recs[n]
		checkJob(t, s, withState(r, claimedState(r, owner, at)), 2, n+" after the claims")
	}
	// j0 is the holder's: the other replica takes the rest.
	rest := claimNames("j3", "j4", "j5")
	claimStep(t, b, newPlanner("other", at), 10, rest, rest, true)
}

// testClaimExactlyOnce claims many due jobs from two handles, two owners
// on each, all at once: each job is claimed once, by one of them.
func testClaimExactlyOnce(t *testing.T, s ClaimerStore, second func() ClaimerStore) {
	const jobs, limit = 300, 17
	ctx := t.Context()
	at := jobBase
	b := second()
	for i := range jobs {
		r := dueJob(fmt.Sprintf("j%03d", i), i, at.Add(-time.Duration(i*7%jobs)*time.Second), "")
		if i%2 == 0 {
			r.Exec = nil
		}
		createJobs(t, s, r)
	}
	type worker struct {
		s     ClaimerStore
		owner string
	}
	workers := []worker{{s, "r1a"}, {s, "r1b"}, {b, "r2a"}, {b, "r2b"}}
	for _, w := range workers {
		heartbeat(t, w.s, w.owner, longLease)
	}

	var mu sync.Mutex
	claimedBy := map[string]string{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			plan := func(r store.JobRecord) (store.JobState, bool) {
				if r.Exec != nil && r.Exec.Owner != "" {
					t.Errorf("%s was offered %s, owned by %s (alive)", w.owner, r.Job.GetName(), r.Exec.Owner)
					return store.JobState{}, false
				}
				return claimedState(r, w.owner, at), true
			}
			<-start
			// Each round claims at least one job or ends the loop.
			for round := 0; round <= jobs; round++ {
				got, err := w.s.ClaimJobs(ctx, w.owner, at, limit, plan)
				if err != nil {
					t.Errorf("%s: ClaimJobs: %v", w.owner, err)
					return
				}
				if len(got) == 0 {
					return
				}
				if len(got) > limit {
					t.Errorf("%s: ClaimJobs with limit %d claimed %d", w.owner, limit, len(got))
				}
				mu.Lock()
				for _, r := range got {
					n := r.Job.GetName()
					if r.Version != 2 || r.Exec == nil || r.Exec.Owner != w.owner {
						t.Errorf("%s: claimed %s at Version %d with execution %+v", w.owner, n, r.Version, r.Exec)
					}
					if prev, dup := claimedBy[n]; dup {
						t.Errorf("%s claimed by %s and again by %s", n, prev, w.owner)
					}
					claimedBy[n] = w.owner
				}
				mu.Unlock()
			}
			t.Errorf("%s: still claiming after %d rounds", w.owner, jobs+1)
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	all := snapshot(t, s)
	if len(all) != jobs {
		t.Fatalf("%d jobs after the claims, want %d", len(all), jobs)
	}
	var missed []string
	for n, r := range all {
		owner, claimed := claimedBy[n]
		if !claimed {
			missed = append(missed, n)
			continue
		}
		if r.Version != 2 || r.Exec == nil || r.Exec.Owner != owner {
			t.Fatalf("%s, claimed by %s, is stored at Version %d with execution %+v", n, owner, r.Version, r.Exec)
		}
	}
	if len(missed) > 0 {
		slices.Sort(missed)
		t.Fatalf("%d due jobs never claimed: %q", len(missed), missed)
	}
	checkNextDue(t, b, time.Time{}, "after every job was claimed")
}
