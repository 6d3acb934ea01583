package storetest

import (
	"slices"
	"testing"
	"time"

	statuspb "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/oidcron/oidcron/internal/store"
)

// testLastSlot checks JobRecord.LastSlot, the floor of a job's slots: kept
// as created, set by the engine's state writes, never moved back by any
// write, and forgotten with the job.
func testLastSlot(t *testing.T, st store.JobStore) {
	ctx := t.Context()
	first := jobBase.Add(-time.Minute) // nanoseconds, another zone than UTC
	r := jobRecord("p1", "us-central1", "floor", 1)
	r.Exec, r.LastSlot = nil, first
	want := cloneJob(r)
	ok(t, st.CreateJob(ctx, r), "CreateJob with a last slot")
	checkJob(t, st, want, 1, "after CreateJob")
	plain := jobRecord("p1", "us-central1", "plain", 2)
	ok(t, st.CreateJob(ctx, plain), "CreateJob without one")
	checkJob(t, st, plain, 1, "a job that never fired")

	name := r.Job.GetName()
	// The claim of the next slot moves it on; the execution's end, which
	// names no slot, keeps it.
	claim := store.JobState{Name: name, Version: 1, NextFire: jobBase.Add(time.Minute), ScheduleTime: jobBase.Add(time.Minute),
		Exec: &store.Execution{ScheduleTime: jobBase}, LastSlot: jobBase.In(zoneEast)}
	updateStates(t, st, claim)
	want = withState(want, claim)
	checkJob(t, st, want, 2, "after a claim")
	if !want.LastSlot.Equal(jobBase) {
		t.Fatalf("the fixture's claim did not move the last slot: %v", want.LastSlot)
	}
	end := store.JobState{Name: name, Version: 2, NextFire: claim.NextFire, DueTime: claim.NextFire, ScheduleTime: claim.NextFire,
		Result: &store.JobResult{Status: &statuspb.Status{}, LastAttemptTime: jobBase}}
	updateStates(t, st, end)
	want = withState(want, end)
	checkJob(t, st, want, 3, "after the execution's end")

	// An earlier slot never replaces it, nor does a refused write; two
	// states of the job in one call apply in order.
	back := store.JobState{Name: name, Version: 3, NextFire: first, DueTime: first, LastSlot: first}
	stale := store.JobState{Name: name, Version: 3, LastSlot: jobBase.Add(time.Hour)}
	refused, err := st.UpdateJobStates(ctx, []store.JobState{back, stale})
	ok(t, err, "UpdateJobStates with an earlier slot, then a stale one")
	if !slices.Equal(refused, []int{1}) {
		t.Fatalf("UpdateJobStates refused %v, want [1]", refused)
	}
	want = withState(want, back)
	checkJob(t, st, want, 4, "after an earlier slot and a refused state")
	if !want.LastSlot.Equal(jobBase) {
		t.Fatalf("the fixture moved the last slot back: %v", want.LastSlot)
	}

	// The API's full write keeps it (the API computes NextFire from it, and
	// writes what it read), and a later one in it is taken.
	full := cloneJob(want)
	full.Job.Schedule, full.LastSlot = "every 5 minutes", time.Time{}
	ok(t, st.UpdateJob(ctx, full, 4), "UpdateJob without a last slot")
	full.LastSlot = jobBase
	checkJob(t, st, full, 5, "after UpdateJob without a last slot")
	full.LastSlot = first
	ok(t, st.UpdateJob(ctx, full, 5), "UpdateJob with an earlier last slot")
	full.LastSlot = jobBase
	checkJob(t, st, full, 6, "after UpdateJob with an earlier last slot")
	full.LastSlot = jobBase.Add(time.Hour)
	ok(t, st.UpdateJob(ctx, full, 6), "UpdateJob with a later last slot")
	checkJob(t, st, full, 7, "after UpdateJob with a later last slot")

	// The engine reads it at start with the heads.
	heads, err := st.ScanJobHeads(ctx, store.Page{})
	ok(t, err, "ScanJobHeads")
	if len(heads) != 2 || heads[0].Name != name || heads[1].Name != plain.Job.GetName() {
		t.Fatalf("ScanJobHeads: %+v", heads)
	}
	sameTime(t, heads[0].LastSlot, full.LastSlot, "head's LastSlot")
	sameTime(t, heads[1].LastSlot, time.Time{}, "head's LastSlot of a job that never fired")

	// A job created again under the name has fired nothing.
	ok(t, st.DeleteJob(ctx, name), "DeleteJob")
	again := jobRecord("p1", "us-central1", "floor", 3)
	ok(t, st.CreateJob(ctx, again), "CreateJob again")
	checkJob(t, st, again, 8, "the job created again")
}

// testClaimLastSlot checks that a claim writes the slot it fires as the
// job's LastSlot, in the claim's own write: plan is offered the stored one,
// the claimed record returned shows the new one, and a claim naming an
// earlier slot, or none, keeps it.
func testClaimLastSlot(t *testing.T, s ClaimerStore, _ func() ClaimerStore) {
	at := jobBase
	heartbeat(t, s, "me", longLease)
	r := withoutExec(dueJob("j", 1, at.Add(-time.Hour), ""))
	r.LastSlot = at.Add(-2 * time.Hour)
	createJobs(t, s, r)
	p := newPlanner("me", at)
	p.take = refuseAll
	claimStep(t, s, p, 10, claimNames("j"), nil, true)
	p.take = nil

	fired := at.Add(-time.Hour).In(zoneEast)
	p.edit = func(st *store.JobState) { st.LastSlot = fired }
	got := claimStep(t, s, p, 10, claimNames("j"), claimNames("j"), true)
	sameTime(t, got[0].LastSlot, fired, "LastSlot returned by the claim")

	// Released (the attempt failed, its retry is due), then claimed again
	// by a plan that names an earlier slot, then none: the floor stays.
	release := func(version int64) {
		t.Helper()
		rec, err := s.GetJob(t.Context(), claimName("j"))
		ok(t, err, "GetJob")
		e := *rec.Exec
		e.Owner = ""
		updateStates(t, s, store.JobState{Name: rec.Job.GetName(), Version: version, NextFire: rec.NextFire, DueTime: at, Exec: &e})
	}
	release(2)
	p.edit = func(st *store.JobState) { st.LastSlot = at.Add(-3 * time.Hour) }
	got = claimStep(t, s, p, 10, claimNames("j"), claimNames("j"), true)
	sameTime(t, got[0].LastSlot, fired, "LastSlot after a claim naming an earlier slot")
	release(4)
	p.edit = nil
	got = claimStep(t, s, p, 10, claimNames("j"), claimNames("j"), true)
	sameTime(t, got[0].LastSlot, fired, "LastSlot after a claim naming none")
}
