package storetest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/store"
)

// ---- Fixtures ----

var (
	zoneEast = time.FixedZone("UTC+5:30", 5*3600+1800)
	zoneWest = time.FixedZone("UTC-8", -8*3600)
	// jobBase is the fixtures' clock: nanoseconds, a zone other than UTC,
	// the night of a DST change in the US.
	jobBase = time.Date(2026, 3, 8, 1, 59, 59, 999_999_999, zoneWest)
	// jobNow carries a monotonic clock reading, which must not survive the
	// store. Read once, so that a fixture built twice is the same record.
	jobNow = time.Now()
)

func jobName(projectID, location, id string) string {
	return "projects/" + projectID + "/locations/" + location + "/jobs/" + id
}

func job(projectID, location, id string, seed int) *schedulerpb.Job {
	j := filled(&schedulerpb.Job{}, seed)
	j.Name = jobName(projectID, location, id)
	return j
}

// jobRecord is a job with every field of the engine's state set, times in
// several zones, to the nanosecond, one with a monotonic clock reading.
func jobRecord(projectID, location, id string, seed int) store.JobRecord {
	base := jobBase.Add(time.Duration(seed) * time.Hour)
	return store.JobRecord{
		Job:         job(projectID, location, id, seed),
		Version:     int64(seed) + 40, // ignored by CreateJob
		Incarnation: int64(seed) + 90, // ignored by every write
		NextFire:    base.Add(time.Minute).In(zoneEast),
		DueTime:     base.Add(time.Second + 7),
		Exec: &store.Execution{
			ScheduleTime: base,
			Manual:       true,
			Attempts:     int32(seed%5 + 2),
			FirstAttempt: base.Add(time.Nanosecond).In(zoneEast),
			NextAttempt:  base.Add(time.Second + 7),
			Owner:        fmt.Sprintf("replica-%d", seed),
			LeaseUntil:   jobNow.Add(time.Duration(seed) * time.Minute),
			// All 63 bits: a replica's tokens are random.
			Claim: math.MaxInt64 - int64(seed),
		},
	}
}

// cloneJob copies a record deeply, so that a test can keep what it wrote
// while it goes on changing the record.
func cloneJob(j store.JobRecord) store.JobRecord {
	j.Job = clone(j.Job)
	if j.Exec != nil {
		e := *j.Exec
		j.Exec = &e
	}
	return j
}

// sameJob checks a record read back against the one written and the
// Version the store must have given it.
func sameJob(t *testing.T, got, want store.JobRecord, version int64, what string) {
	t.Helper()
	sameProto(t, got.Job, want.Job, what+" Job")
	if got.Version != version {
		t.Fatalf("%s: Version %d, want %d", what, got.Version, version)
	}
	if got.Incarnation < 1 || got.Incarnation > got.Version {
		t.Fatalf("%s: Incarnation %d, want one of the versions up to %d", what, got.Incarnation, got.Version)
	}
	sameTime(t, got.NextFire, want.NextFire, what+" NextFire")
	sameTime(t, got.DueTime, want.DueTime, what+" DueTime")
	sameTime(t, got.LastSlot, want.LastSlot, what+" LastSlot")
	switch {
	case want.Exec == nil && got.Exec != nil:
		t.Fatalf("%s: Exec %+v, want nil", what, *got.Exec)
	case want.Exec == nil:
	case got.Exec == nil:
		t.Fatalf("%s: Exec nil, want %+v", what, *want.Exec)
	default:
		g, w := got.Exec, want.Exec
		sameTime(t, g.ScheduleTime, w.ScheduleTime, what+" Exec.ScheduleTime")
		sameTime(t, g.FirstAttempt, w.FirstAttempt, what+" Exec.FirstAttempt")
		sameTime(t, g.NextAttempt, w.NextAttempt, what+" Exec.NextAttempt")
		sameTime(t, g.LeaseUntil, w.LeaseUntil, what+" Exec.LeaseUntil")
		if g.Manual != w.Manual || g.Attempts != w.Attempts || g.Owner != w.Owner || g.Claim != w.Claim {
			t.Fatalf("%s: Exec %+v, want %+v", what, *g, *w)
		}
	}
	for _, tm := range []time.Time{got.NextFire, got.DueTime, got.LastSlot} {
		if tm != tm.Round(0) {
			t.Fatalf("%s: a time carries a monotonic clock reading: %v", what, tm)
		}
	}
}

// checkJob reads a job and checks it.
func checkJob(t *testing.T, st store.JobStore, want store.JobRecord, version int64, what string) {
	t.Helper()
	got, err := st.GetJob(t.Context(), want.Job.GetName())
	ok(t, err, what)
	sameJob(t, got, want, version, what)
}

func jobNames(js []store.JobRecord) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.Job.GetName()
	}
	return out
}

// attempt is a finished attempt with every field set.
func attempt(job string, start time.Time, number int32, seed int) store.Attempt {
	return store.Attempt{
		Job:          job,
		ScheduleTime: start.Add(-time.Duration(number) * time.Second).In(zoneEast),
		Manual:       seed%2 == 0,
		Number:       number,
		Start:        start,
		End:          start.Add(time.Duration(seed)*time.Millisecond + 3),
		URL:          fmt.Sprintf("https://example.com/hook/%d?x=%d", seed, number),
		HTTPStatus:   int32(500 + seed%4),
		Code:         int32(seed%16 + 1),
		Message:      fmt.Sprintf("HTTP %d: «%d» upstream said no", 500+seed%4, seed),
	}
}

func sameAttempts(t *testing.T, got, want []store.Attempt, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d attempts, want %d\n got: %v\nwant: %v", what, len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		at := fmt.Sprintf("%s [%d]", what, i)
		sameTime(t, g.Start, w.Start, at+" Start")
		sameTime(t, g.End, w.End, at+" End")
		sameTime(t, g.ScheduleTime, w.ScheduleTime, at+" ScheduleTime")
		g.Start, g.End, g.ScheduleTime = w.Start, w.End, w.ScheduleTime
		if g != w {
			t.Fatalf("%s: got %+v, want %+v", at, got[i], w)
		}
	}
}

// ---- Jobs ----

func testJobs(t *testing.T, st store.JobStore) {
	ctx := t.Context()
	rec := jobRecord("p1", "us-central1", "hello", 1)
	name := rec.Job.GetName()

	_, err := st.GetJob(ctx, name)
	isErr(t, err, store.ErrNotFound, "GetJob before create")
	isErr(t, st.UpdateJob(ctx, rec, 0), store.ErrNotFound, "UpdateJob before create")
	isErr(t, st.UpdateJob(ctx, rec, 1), store.ErrNotFound, "UpdateJob with a version before create")
	isErr(t, st.DeleteJob(ctx, name), store.ErrNotFound, "DeleteJob before create")

	want := cloneJob(rec)
	ok(t, st.CreateJob(ctx, rec), "CreateJob")
	// The store keeps its own copy of the message and of the execution.
	rec.Job.Description = "changed by the caller after create"
	rec.Exec.Owner = "changed by the caller after create"
	got, err := st.GetJob(ctx, name)
	ok(t, err, "GetJob")
	sameJob(t, got, want, 1, "GetJob")
	if got.Job.GetRetryConfig() == nil || got.Job.GetUserUpdateTime() == nil || got.Job.GetTarget() == nil {
		t.Fatalf("GetJob: nested messages, the target or timestamps lost: %v", got.Job)
	}
	got.Job.Description = "changed by the caller after get"
	got.Exec.Attempts = 99
	checkJob(t, st, want, 1, "GetJob again")

	// A refused create writes nothing.
	isErr(t, st.CreateJob(ctx, jobRecord("p1", "us-central1", "hello", 2)), store.ErrAlreadyExists, "CreateJob twice")
	checkJob(t, st, want, 1, "GetJob after a refused create")

	// The same short name elsewhere is another job.
	for _, n := range []string{
		jobName("p1", "europe-west1", "hello"),
		jobName("p2", "us-central1", "hello"),
		jobName("p1", "us-central1", "hell"),
		jobName("p1", "us-central1", "hello2"),
	} {
		_, err := st.GetJob(ctx, n)
		isErr(t, err, store.ErrNotFound, "GetJob "+n)
	}

	// Paused: no execution, no next fire, nothing due. Version 0 writes
	// whatever the stored version; the stored one counts up.
	paused := cloneJob(want)
	paused.Job.State = schedulerpb.Job_PAUSED
	paused.Exec, paused.NextFire, paused.DueTime = nil, time.Time{}, time.Time{}
	paused.Version = 77 // not what UpdateJob stores
	ok(t, st.UpdateJob(ctx, paused, 0), "UpdateJob without a version")
	checkJob(t, st, paused, 2, "GetJob after pause")

	// A stale version is refused and writes nothing.
	resumed := cloneJob(want)
	resumed.Job.State = schedulerpb.Job_ENABLED
	isErr(t, st.UpdateJob(ctx, resumed, 1), store.ErrVersionMismatch, "UpdateJob with a stale version")
	isErr(t, st.UpdateJob(ctx, resumed, 3), store.ErrVersionMismatch, "UpdateJob with a future version")
	checkJob(t, st, paused, 2, "GetJob after refused updates")

	// An execution whose fields are all zero is still an execution, not nil.
	resumed.Exec = &store.Execution{}
	ok(t, st.UpdateJob(ctx, resumed, 2), "UpdateJob with the current version")
	checkJob(t, st, resumed, 3, "GetJob with a zero execution")

	// A scheduled (not manual) execution with an owner and no lease.
	resumed.Exec = &store.Execution{ScheduleTime: jobBase, Attempts: 1, FirstAttempt: jobBase.Add(time.Second), Owner: "r-1"}
	ok(t, st.UpdateJob(ctx, resumed, 3), "UpdateJob with a scheduled execution")
	checkJob(t, st, resumed, 4, "GetJob with a scheduled execution")

	// The whole message is replaced, not merged.
	other := jobRecord("p1", "us-central1", "hello", 3)
	ok(t, st.UpdateJob(ctx, other, 4), "UpdateJob with another message")
	checkJob(t, st, other, 5, "GetJob after replacing the message")

	ok(t, st.DeleteJob(ctx, name), "DeleteJob")
	_, err = st.GetJob(ctx, name)
	isErr(t, err, store.ErrNotFound, "GetJob after delete")
	isErr(t, st.DeleteJob(ctx, name), store.ErrNotFound, "DeleteJob twice")
	isErr(t, st.UpdateJob(ctx, other, 0), store.ErrNotFound, "UpdateJob after delete")
	isErr(t, st.UpdateJob(ctx, other, 5), store.ErrNotFound, "UpdateJob with the last version after delete")
	all, err := st.ListJobs(ctx, "p1", "us-central1", store.Page{})
	ok(t, err, "ListJobs after delete")
	if len(all) != 0 {
		t.Fatalf("ListJobs after delete: %v", jobNames(all))
	}

	// A deleted name can be used again. The new job is another
	// incarnation, whose versions continue past the deleted one's: a
	// version read from the deleted job never matches the new one.
	again := jobRecord("p1", "us-central1", "hello", 4)
	ok(t, st.CreateJob(ctx, again), "CreateJob after delete")
	checkJob(t, st, again, 6, "GetJob after re-create")
	checkIncarnation(t, st, name, 6, "after re-create")
	for _, stale := range []int64{1, 2, 5} {
		isErr(t, st.UpdateJob(ctx, other, stale), store.ErrVersionMismatch, fmt.Sprintf("UpdateJob with the deleted job's version %d", stale))
		refused, err := st.UpdateJobStates(ctx, []store.JobState{{Name: name, Version: stale}})
		ok(t, err, "UpdateJobStates with a deleted job's version")
		if !slices.Equal(refused, []int{0}) {
			t.Fatalf("UpdateJobStates with the deleted job's version %d: refused %v, want [0]", stale, refused)
		}
	}
	checkJob(t, st, again, 6, "GetJob after writes with stale versions")
	// Its writes keep the incarnation.
	ok(t, st.UpdateJob(ctx, other, 6), "UpdateJob of the new job")
	checkJob(t, st, other, 7, "GetJob after updating the new job")
	refused, err := st.UpdateJobStates(ctx, []store.JobState{{Name: name, Version: 7, NextFire: jobBase}})
	ok(t, err, "UpdateJobStates of the new job")
	if len(refused) != 0 {
		t.Fatalf("UpdateJobStates of the new job refused %v", refused)
	}
	checkIncarnation(t, st, name, 6, "after writes")

	// And again: each deletion is remembered.
	ok(t, st.DeleteJob(ctx, name), "DeleteJob again")
	ok(t, st.CreateJob(ctx, again), "CreateJob a third time")
	checkJob(t, st, again, 9, "GetJob after the third create")
	checkIncarnation(t, st, name, 9, "after the third create")
	// A refused create changes nothing, versions included.
	isErr(t, st.CreateJob(ctx, jobRecord("p1", "us-central1", "hello", 5)), store.ErrAlreadyExists, "CreateJob over the third")
	checkJob(t, st, again, 9, "GetJob after a refused create")
}

func checkIncarnation(t *testing.T, st store.JobStore, name string, want int64, what string) {
	t.Helper()
	got, err := st.GetJob(t.Context(), name)
	ok(t, err, "GetJob "+what)
	if got.Incarnation != want {
		t.Fatalf("%s: Incarnation %d, want %d", what, got.Incarnation, want)
	}
}

func testJobsListing(t *testing.T, st store.JobStore) {
	ctx := t.Context()
	type loc struct{ project, location string }
	byLoc := map[loc][]string{}
	var everything []string
	// Ids whose byte order differs from a case-insensitive or numeric
	// one, and projects that are prefixes of each other.
	ids := []string{"job-2", "job-10", "Job_1", "job", "job-1", "a"}
	seed := 0
	for _, l := range []loc{{"p1", "us-central1"}, {"p1", "europe-west1"}, {"p10", "us-central1"}, {"p2", "us-central1"}} {
		for _, id := range ids[:len(ids)-seed%3] {
			seed++
			r := jobRecord(l.project, l.location, id, seed)
			if seed%2 == 0 {
				r.Exec = nil
			}
			ok(t, st.CreateJob(ctx, r), "CreateJob "+r.Job.GetName())
			byLoc[l] = append(byLoc[l], r.Job.GetName())
			everything = append(everything, r.Job.GetName())
		}
	}
	name := func(j store.JobRecord) string { return j.Job.GetName() }

	for l, names := range byLoc {
		slices.Sort(names)
		t.Run(fmt.Sprintf("%s/%s", l.project, l.location), func(t *testing.T) {
			checkPaging(t, names, func(p store.Page) ([]store.JobRecord, error) {
				return st.ListJobs(ctx, l.project, l.location, p)
			}, name)
		})
	}
	slices.Sort(everything)
	t.Run("ScanJobs", func(t *testing.T) {
		checkPaging(t, everything, func(p store.Page) ([]store.JobRecord, error) { return st.ScanJobs(ctx, p) }, name)
	})

	for _, l := range []loc{{"p1", "us-east1"}, {"p1", "-"}, {"p2", "europe-west1"}, {"p", "us-central1"}, {"p3", "us-central1"}} {
		js, err := st.ListJobs(ctx, l.project, l.location, store.Page{Size: 10})
		ok(t, err, fmt.Sprintf("ListJobs %s %s", l.project, l.location))
		if len(js) != 0 {
			t.Fatalf("ListJobs %s %s: want none, got %q", l.project, l.location, jobNames(js))
		}
	}

	// Listed and scanned records are whole: state, execution and version.
	ok(t, st.UpdateJob(ctx, jobRecord("p1", "europe-west1", "job", 50), 0), "UpdateJob")
	js, err := st.ListJobs(ctx, "p1", "europe-west1", store.Page{})
	ok(t, err, "ListJobs")
	scanned, err := st.ScanJobs(ctx, store.Page{})
	ok(t, err, "ScanJobs")
	for _, j := range append(js, scanned...) {
		got, err := st.GetJob(ctx, j.Job.GetName())
		ok(t, err, "GetJob "+j.Job.GetName())
		sameJob(t, j, got, got.Version, "listed "+j.Job.GetName())
	}
	if i := slices.Index(jobNames(js), jobName("p1", "europe-west1", "job")); i < 0 || js[i].Version != 2 || js[i].Exec == nil {
		t.Fatalf("ListJobs: the updated job is missing or stale: %+v", js)
	}
}

// withResult is want as a read shows it after an UpdateJobStates of st:
// the engine's fields and, with a Result, status and last_attempt_time
// replaced; the rest of the message as it was.
func withState(want store.JobRecord, st store.JobState) store.JobRecord {
	w := cloneJob(want)
	w.NextFire, w.DueTime, w.Exec = st.NextFire, st.DueTime, nil
	w.LastSlot = store.Later(w.LastSlot, st.LastSlot)
	if st.Exec != nil {
		e := *st.Exec
		w.Exec = &e
	}
	w.Job.ScheduleTime = nil
	if !st.ScheduleTime.IsZero() {
		w.Job.ScheduleTime = timestamppb.New(st.ScheduleTime)
	}
	if r := st.Result; r != nil {
		w.Job.Status = clone(r.Status)
		w.Job.LastAttemptTime = nil
		if !r.LastAttemptTime.IsZero() {
			w.Job.LastAttemptTime = timestamppb.New(r.LastAttemptTime)
		}
	}
	return w
}

func testUpdateJobStates(t *testing.T, st store.JobStore) {
	ctx := t.Context()
	refused, err := st.UpdateJobStates(ctx, nil)
	ok(t, err, "UpdateJobStates of nothing")
	if len(refused) != 0 {
		t.Fatalf("UpdateJobStates of nothing refused %v", refused)
	}

	var recs []store.JobRecord
	for i := range 5 {
		r := jobRecord("p1", "us-central1", fmt.Sprintf("j%d", i), i+1)
		ok(t, st.CreateJob(ctx, r), "CreateJob")
		recs = append(recs, cloneJob(r))
	}
	name := func(i int) string { return recs[i].Job.GetName() }
	// Each kind of state the engine writes.
	states := []store.JobState{
		// A claim: an execution, the next slot, no result.
		{Name: name(0), Version: 1, NextFire: jobBase.Add(time.Hour), DueTime: jobBase.In(zoneEast), ScheduleTime: jobBase.Add(time.Hour),
			Exec: &store.Execution{ScheduleTime: jobBase, FirstAttempt: jobBase.Add(time.Nanosecond), NextAttempt: jobBase, Owner: "r-2", Claim: 1<<62 + 5}},
		// An attempt's end: a failure with details, a retry pending.
		{Name: name(1), Version: 1, NextFire: jobBase.Add(time.Hour), DueTime: jobBase.Add(10 * time.Second), ScheduleTime: jobBase.Add(10 * time.Second),
			Exec:   &store.Execution{ScheduleTime: jobBase, Attempts: 1, FirstAttempt: jobBase, NextAttempt: jobBase.Add(10 * time.Second)},
			Result: &store.JobResult{Status: filled(&statuspb.Status{}, 7), LastAttemptTime: jobBase.In(zoneWest)}},
		// An execution's end, OK: an empty status is a status, not none.
		{Name: name(2), Version: 1, NextFire: jobBase.Add(time.Hour), DueTime: jobBase.Add(time.Hour), ScheduleTime: jobBase.Add(time.Hour),
			Result: &store.JobResult{Status: &statuspb.Status{}, LastAttemptTime: jobNow}},
		// Paused: nothing due, no schedule time; the result clears both.
		{Name: name(3), Version: 1, Result: &store.JobResult{}},
		// A manual execution's end leaves the scheduled one alone.
		{Name: name(4), Version: 1, Exec: recs[4].Exec, NextFire: recs[4].NextFire, DueTime: recs[4].DueTime,
			Result: &store.JobResult{Status: &statuspb.Status{Code: 5, Message: "URL_ERROR-ERROR_NOT_FOUND. Original HTTP response code number = 404"}}},
	}
	refused, err = st.UpdateJobStates(ctx, states)
	ok(t, err, "UpdateJobStates")
	if len(refused) != 0 {
		t.Fatalf("UpdateJobStates refused %v", refused)
	}
	for i, s := range states {
		recs[i] = withState(recs[i], s)
		checkJob(t, st, recs[i], 2, "after UpdateJobStates "+s.Name)
	}
	// The caller's states are not kept.
	states[0].Exec.Attempts = 99
	checkJob(t, st, recs[0], 2, "after the caller changed its state")

	// States whose job is gone or was written since are refused and name
	// themselves; the others are written.
	later := cloneJob(recs[2])
	later.Job.Description = "written by the API"
	ok(t, st.UpdateJob(ctx, later, 2), "UpdateJob")
	recs[2] = later
	mixed := []store.JobState{
		{Name: name(0), Version: 2, NextFire: jobBase.Add(2 * time.Hour), DueTime: jobBase.Add(2 * time.Hour), ScheduleTime: jobBase.Add(2 * time.Hour)},
		{Name: name(2), Version: 2, NextFire: jobBase},                                    // stale
		{Name: jobName("p1", "us-central1", "missing"), Version: 1},                       // never existed
		{Name: name(1), Version: 1, NextFire: jobBase},                                    // stale
		{Name: name(4), Version: 2, Result: &store.JobResult{Status: &statuspb.Status{}}}, // kept
		{Name: name(3), Version: 7},                                                       // a future version
	}
	refused, err = st.UpdateJobStates(ctx, mixed)
	ok(t, err, "UpdateJobStates with refusals")
	if !slices.Equal(refused, []int{1, 2, 3, 5}) {
		t.Fatalf("UpdateJobStates refused %v, want [1 2 3 5]", refused)
	}
	recs[0], recs[4] = withState(recs[0], mixed[0]), withState(recs[4], mixed[4])
	checkJob(t, st, recs[0], 3, "written beside refusals")
	checkJob(t, st, recs[1], 2, "refused, stale")
	checkJob(t, st, recs[2], 3, "refused after the API's write")
	checkJob(t, st, recs[3], 2, "refused, future version")
	checkJob(t, st, recs[4], 3, "written beside refusals, with a result")
	_, err = st.GetJob(ctx, jobName("p1", "us-central1", "missing"))
	isErr(t, err, store.ErrNotFound, "GetJob of a job only in a refused state")

	// States apply in order: one job twice, the second expecting the
	// version the first made.
	twice := []store.JobState{
		{Name: name(1), Version: 2, Result: &store.JobResult{Status: &statuspb.Status{Code: 14}, LastAttemptTime: jobBase}},
		{Name: name(1), Version: 3, NextFire: jobBase.Add(3 * time.Hour), DueTime: jobBase.Add(3 * time.Hour)},
	}
	refused, err = st.UpdateJobStates(ctx, twice)
	ok(t, err, "UpdateJobStates of one job twice")
	if len(refused) != 0 {
		t.Fatalf("UpdateJobStates of one job twice refused %v", refused)
	}
	recs[1] = withState(withState(recs[1], twice[0]), twice[1])
	checkJob(t, st, recs[1], 4, "after two states in one call")

	// A full write after state writes replaces everything, output fields
	// included, as the API gives them.
	full := jobRecord("p1", "us-central1", "j0", 20)
	ok(t, st.UpdateJob(ctx, full, 3), "UpdateJob after state writes")
	checkJob(t, st, full, 4, "after a full write")
	full.Job.Status, full.Job.LastAttemptTime, full.Job.ScheduleTime = nil, nil, nil
	ok(t, st.UpdateJob(ctx, full, 4), "UpdateJob without output fields")
	checkJob(t, st, full, 5, "after a full write without output fields")
}

func testGetJobs(t *testing.T, st store.JobStore) {
	ctx := t.Context()
	js, err := st.GetJobs(ctx, nil)
	ok(t, err, "GetJobs of nothing")
	if len(js) != 0 {
		t.Fatalf("GetJobs of nothing: %q", jobNames(js))
	}
	want := map[string]store.JobRecord{}
	for i, id := range []string{"b", "a", "c", "Z"} {
		r := jobRecord("p"+fmt.Sprint(i%2), "us-central1", id, i)
		if i == 2 {
			r.Exec = nil
		}
		ok(t, st.CreateJob(ctx, r), "CreateJob "+id)
		want[r.Job.GetName()] = r
	}
	a, b, c, z := jobName("p1", "us-central1", "a"), jobName("p0", "us-central1", "b"), jobName("p0", "us-central1", "c"), jobName("p1", "us-central1", "Z")
	for _, tc := range []struct {
		ask, want []string
	}{
		{[]string{a}, []string{a}},
		{[]string{c, jobName("p9", "us-central1", "a"), a, b, a}, []string{b, c, a}},
		{[]string{z, c, b, a}, []string{b, c, z, a}},
		{[]string{jobName("p1", "us-central1", "missing"), "not a job name"}, nil},
	} {
		js, err := st.GetJobs(ctx, tc.ask)
		ok(t, err, fmt.Sprintf("GetJobs %q", tc.ask))
		if got := jobNames(js); !slices.Equal(got, tc.want) {
			t.Fatalf("GetJobs %q: got %q, want %q", tc.ask, got, tc.want)
		}
		for _, j := range js {
			sameJob(t, j, want[j.Job.GetName()], 1, "GetJobs "+j.Job.GetName())
		}
	}
}

// sameHead checks a head against the whole record.
func sameHead(t *testing.T, got store.JobHead, want store.JobRecord, what string) {
	t.Helper()
	if got.Name != want.Job.GetName() || got.Version != want.Version || got.Incarnation != want.Incarnation ||
		got.State != want.Job.GetState() || got.Schedule != want.Job.GetSchedule() || got.TimeZone != want.Job.GetTimeZone() {
		t.Fatalf("%s: head %+v, want the record's %s v%d i%d %v %q %q", what, got, want.Job.GetName(), want.Version, want.Incarnation,
			want.Job.GetState(), want.Job.GetSchedule(), want.Job.GetTimeZone())
	}
	sameJob(t, store.JobRecord{Job: want.Job, Version: got.Version, Incarnation: got.Incarnation, NextFire: got.NextFire, DueTime: want.DueTime,
		Exec: got.Exec, LastSlot: got.LastSlot}, want, want.Version, what)
}

func testScanJobHeads(t *testing.T, st store.JobStore) {
	ctx := t.Context()
	var names []string
	for i, id := range []string{"job-2", "job-10", "Job_1", "a"} {
		for _, p := range []string{"p1", "p10"} {
			r := jobRecord(p, "us-central1", id, i)
			r.Job.Schedule = []string{"every 1 mins", "0 9 * * 1", "every 1 mins", ""}[i]
			r.Job.TimeZone = []string{"Europe/Berlin", "", "Europe/Berlin", "UTC"}[i]
			if i%2 == 0 {
				r.Exec, r.NextFire = nil, time.Time{}
			}
			if i == 3 && p == "p10" {
				r.Exec = &store.Execution{} // all zero, and not nil
			}
			ok(t, st.CreateJob(ctx, r), "CreateJob")
			names = append(names, r.Job.GetName())
		}
	}
	// Written every way: a full write, a state write, a delete and create.
	r, err := st.GetJob(ctx, jobName("p1", "us-central1", "a"))
	ok(t, err, "GetJob")
	r.Job.State = schedulerpb.Job_PAUSED
	ok(t, st.UpdateJob(ctx, r, r.Version), "UpdateJob")
	_, err = st.UpdateJobStates(ctx, []store.JobState{{Name: jobName("p10", "us-central1", "a"), Version: 1, NextFire: jobBase, DueTime: jobBase}})
	ok(t, err, "UpdateJobStates")
	ok(t, st.DeleteJob(ctx, jobName("p1", "us-central1", "job-2")), "DeleteJob")
	ok(t, st.CreateJob(ctx, jobRecord("p1", "us-central1", "job-2", 9)), "CreateJob again")

	slices.Sort(names)
	checkPaging(t, names, func(p store.Page) ([]store.JobHead, error) { return st.ScanJobHeads(ctx, p) },
		func(h store.JobHead) string { return h.Name })
	heads, err := st.ScanJobHeads(ctx, store.Page{})
	ok(t, err, "ScanJobHeads")
	for _, h := range heads {
		rec, err := st.GetJob(ctx, h.Name)
		ok(t, err, "GetJob "+h.Name)
		sameHead(t, h, rec, "head of "+h.Name)
	}
}

func testDueJobs(t *testing.T, st store.JobStore) {
	ctx := t.Context()
	at := func(d time.Duration) time.Time { return jobBase.Add(d) }
	js, err := st.DueJobs(ctx, at(time.Hour), 0)
	ok(t, err, "DueJobs of an empty store")
	if len(js) != 0 {
		t.Fatalf("DueJobs of an empty store: %q", jobNames(js))
	}

	// id -> due time offset; names are created in an order that is neither
	// the name order nor the due order.
	due := []struct {
		id  string
		off time.Duration
	}{
		{"c", 3 * time.Second},
		{"b", time.Second},
		{"e", 2 * time.Second},
		{"idle", -1}, // zero DueTime
		{"a", time.Second},
		{"late", 1000 * time.Hour},
		{"early", -time.Hour},
	}
	for i, d := range due {
		r := jobRecord("p"+fmt.Sprint(i%2), "us-central1", d.id, i)
		r.DueTime = time.Time{}
		if d.off != -1 {
			r.DueTime = at(d.off).In([]*time.Location{time.UTC, zoneEast, zoneWest}[i%3])
		}
		ok(t, st.CreateJob(ctx, r), "CreateJob "+d.id)
	}
	n := func(id string) string {
		for i, d := range due {
			if d.id == id {
				return jobName("p"+fmt.Sprint(i%2), "us-central1", id)
			}
		}
		panic(id)
	}
	check := func(when time.Time, limit int, want ...string) {
		t.Helper()
		js, err := st.DueJobs(ctx, when, limit)
		ok(t, err, fmt.Sprintf("DueJobs(%s, %d)", when.Format(time.RFC3339Nano), limit))
		var names []string
		for _, id := range want {
			names = append(names, n(id))
		}
		if got := jobNames(js); !slices.Equal(got, names) {
			t.Fatalf("DueJobs(%s, %d): got %q, want %q", when.Format(time.RFC3339Nano), limit, got, names)
		}
	}
	check(at(-2*time.Hour), 0)
	check(at(0), 0, "early")
	// Inclusive at DueTime; equal due times in name order (a is in p0, b
	// in p1: the tie is broken by the whole name).
	check(at(time.Second-1), 0, "early")
	check(at(time.Second), 0, "early", "a", "b")
	check(at(time.Second).In(zoneEast), 0, "early", "a", "b")
	check(at(3*time.Second), 0, "early", "a", "b", "e", "c")
	check(at(3*time.Second), 2, "early", "a")
	check(at(3*time.Second), 1, "early")
	check(at(3*time.Second), -1, "early", "a", "b", "e", "c")
	// A zero DueTime is never due, however late it is asked.
	check(at(2000*time.Hour), 0, "early", "a", "b", "e", "c", "late")
	check(time.Time{}, 0)

	// The records are whole.
	js, err = st.DueJobs(ctx, at(0), 1)
	ok(t, err, "DueJobs")
	got, err := st.GetJob(ctx, n("early"))
	ok(t, err, "GetJob early")
	sameJob(t, js[0], got, 1, "due job")

	// Updates move jobs in and out of the queue; a deleted job leaves it.
	idle, err := st.GetJob(ctx, n("idle"))
	ok(t, err, "GetJob idle")
	idle.DueTime = at(2 * time.Second)
	ok(t, st.UpdateJob(ctx, idle, 1), "UpdateJob idle due")
	early := got
	early.DueTime = time.Time{}
	ok(t, st.UpdateJob(ctx, early, 1), "UpdateJob early idle")
	ok(t, st.DeleteJob(ctx, n("b")), "DeleteJob b")
	check(at(3*time.Second), 0, "a", "e", "idle", "c")
}

// ---- Attempts ----

func testAttempts(t *testing.T, st store.JobStore) {
	ctx := t.Context()
	a, b := jobName("p1", "us-central1", "a"), jobName("p1", "us-central1", "b")
	for i, n := range []string{a, b} {
		r := jobRecord("p1", "us-central1", n[len(n)-1:], i)
		ok(t, st.CreateJob(ctx, r), "CreateJob "+n)
	}
	list := func(job string, limit int, before time.Time) []store.Attempt {
		t.Helper()
		as, err := st.ListAttempts(ctx, job, limit, before)
		ok(t, err, fmt.Sprintf("ListAttempts(%s, %d, %v)", job, limit, before))
		return as
	}
	if as := list(a, 0, time.Time{}); len(as) != 0 {
		t.Fatalf("ListAttempts of a job without attempts: %v", as)
	}
	if as := list(jobName("p1", "us-central1", "none"), 10, time.Time{}); len(as) != 0 {
		t.Fatalf("ListAttempts of an unknown job: %v", as)
	}
	ok(t, st.AddAttempts(ctx, nil), "AddAttempts of nothing")

	t0 := jobBase
	// a's history, newest first: three executions, the middle one retried;
	// two attempts share a Start (the number orders them), two share Start
	// and number (the later added comes first).
	wantA := []store.Attempt{
		attempt(a, t0.Add(3*time.Minute+1), 1, 1),
		attempt(a, t0.Add(2*time.Minute).In(zoneEast), 3, 2),
		attempt(a, t0.Add(2*time.Minute), 2, 3),
		attempt(a, t0.Add(time.Minute), 1, 5), // added after the next one
		attempt(a, t0.Add(time.Minute), 1, 4),
		attempt(a, t0, 1, 6),
	}
	wantA[5].End = time.Time{} // an attempt that never got an end
	wantA[5].HTTPStatus = 0    // nor a response
	wantA[5].ScheduleTime = time.Time{}
	wantB := []store.Attempt{attempt(b, t0.Add(time.Hour), 2, 7), attempt(b, t0.Add(-time.Hour), 1, 8)}

	// Two batches, out of order, the jobs interleaved.
	ok(t, st.AddAttempts(ctx, []store.Attempt{wantA[2], wantB[1], wantA[5], wantA[4]}), "AddAttempts")
	ok(t, st.AddAttempts(ctx, []store.Attempt{wantA[0], wantA[3], wantB[0], wantA[1]}), "AddAttempts again")
	sameAttempts(t, list(a, 0, time.Time{}), wantA, "ListAttempts a")
	sameAttempts(t, list(a, -1, time.Time{}), wantA, "ListAttempts a without a limit")
	sameAttempts(t, list(b, 0, time.Time{}), wantB, "ListAttempts b")
	sameAttempts(t, list(a, 2, time.Time{}), wantA[:2], "ListAttempts a limit 2")
	sameAttempts(t, list(a, 100, time.Time{}), wantA, "ListAttempts a limit 100")
	// before is exclusive and compares Start: paging by the last Start seen.
	sameAttempts(t, list(a, 0, wantA[1].Start), wantA[3:], "ListAttempts a before a shared Start")
	sameAttempts(t, list(a, 0, wantA[1].Start.Add(1)), wantA[1:], "ListAttempts a just after a shared Start")
	sameAttempts(t, list(a, 1, wantA[3].Start), wantA[5:], "ListAttempts a before with a limit")
	sameAttempts(t, list(a, 0, t0), nil, "ListAttempts a before the first")
	sameAttempts(t, list(b, 0, t0.In(zoneEast)), wantB[1:], "ListAttempts b before, another zone")

	// An attempt of a job that does not exist is dropped, and the rest of
	// its batch is kept.
	c := jobName("p1", "us-central1", "c")
	late := attempt(a, t0.Add(time.Hour), 1, 9)
	ok(t, st.AddAttempts(ctx, []store.Attempt{attempt(c, t0, 1, 10), late}), "AddAttempts with a missing job")
	wantA = append([]store.Attempt{late}, wantA...)
	sameAttempts(t, list(a, 0, time.Time{}), wantA, "ListAttempts a after a batch with a missing job")
	ok(t, st.CreateJob(ctx, jobRecord("p1", "us-central1", "c", 11)), "CreateJob c")
	sameAttempts(t, list(c, 0, time.Time{}), nil, "ListAttempts of a job created after its attempt was dropped")

	// All or none: a batch with an attempt that cannot be stored adds nothing.
	bad := attempt(a, time.Time{}, 1, 12)
	if err := st.AddAttempts(ctx, []store.Attempt{attempt(a, t0.Add(2*time.Hour), 1, 13), bad}); err == nil {
		t.Fatal("AddAttempts accepted an attempt without a Start")
	}
	sameAttempts(t, list(a, 0, time.Time{}), wantA, "ListAttempts a after a refused batch")

	// The store keeps its own copy.
	mine := []store.Attempt{attempt(b, t0.Add(2*time.Hour), 1, 14)}
	want := mine[0]
	ok(t, st.AddAttempts(ctx, mine), "AddAttempts b")
	mine[0].Message = "changed by the caller"
	sameAttempts(t, list(b, 1, time.Time{}), []store.Attempt{want}, "ListAttempts b after the caller's change")

	// An attempt may name the incarnation of the job it was made for: one
	// made for a job since deleted and created again under the name is
	// dropped; one of the current incarnation, or naming none, is kept.
	d := jobName("p1", "us-central1", "d")
	ok(t, st.CreateJob(ctx, jobRecord("p1", "us-central1", "d", 15)), "CreateJob d")
	first, err := st.GetJob(ctx, d)
	ok(t, err, "GetJob d")
	ok(t, st.DeleteJob(ctx, d), "DeleteJob d")
	ok(t, st.CreateJob(ctx, jobRecord("p1", "us-central1", "d", 16)), "CreateJob d again")
	second, err := st.GetJob(ctx, d)
	ok(t, err, "GetJob d again")
	if second.Incarnation == first.Incarnation {
		t.Fatalf("d created twice with the same incarnation %d", first.Incarnation)
	}
	ofFirst, ofSecond, ofAny := attempt(d, t0, 1, 17), attempt(d, t0.Add(time.Minute), 1, 18), attempt(d, t0.Add(2*time.Minute), 1, 19)
	ofFirst.Incarnation, ofSecond.Incarnation = first.Incarnation, second.Incarnation
	ok(t, st.AddAttempts(ctx, []store.Attempt{ofFirst, ofSecond, ofAny}), "AddAttempts of two incarnations")
	ofSecond.Incarnation = 0 // not stored
	sameAttempts(t, list(d, 0, time.Time{}), []store.Attempt{ofAny, ofSecond}, "ListAttempts d")
}

func testTrimAttempts(t *testing.T, st store.JobStore) {
	ctx := t.Context()
	n, err := st.TrimAttempts(ctx, 0)
	ok(t, err, "TrimAttempts of an empty store")
	if n != 0 {
		t.Fatalf("TrimAttempts of an empty store deleted %d", n)
	}
	t0 := jobBase
	hist := map[string][]store.Attempt{} // newest first
	for i, id := range []string{"five", "two", "none", "tie"} {
		ok(t, st.CreateJob(ctx, jobRecord("p1", "us-central1", id, i)), "CreateJob "+id)
	}
	five, two, none, tie := jobName("p1", "us-central1", "five"), jobName("p1", "us-central1", "two"),
		jobName("p1", "us-central1", "none"), jobName("p1", "us-central1", "tie")
	for i := range 5 {
		hist[five] = append(hist[five], attempt(five, t0.Add(time.Duration(10-i)*time.Minute), 1, i))
	}
	hist[two] = []store.Attempt{attempt(two, t0.Add(time.Hour), 1, 20), attempt(two, t0, 1, 21)}
	// Same Start and number: the later added is the newer.
	hist[tie] = []store.Attempt{attempt(tie, t0, 1, 31), attempt(tie, t0, 1, 30)}
	var all []store.Attempt
	for _, k := range []string{five, two, tie} {
		h := hist[k]
		for i := len(h) - 1; i >= 0; i-- { // oldest first, as they happen
			all = append(all, h[i])
		}
	}
	ok(t, st.AddAttempts(ctx, all), "AddAttempts")

	checkAll := func(what string, keep int) {
		t.Helper()
		for _, k := range []string{five, two, none, tie} {
			as, err := st.ListAttempts(ctx, k, 0, time.Time{})
			ok(t, err, "ListAttempts "+k)
			want := hist[k][:min(keep, len(hist[k]))]
			sameAttempts(t, as, want, what+" "+k)
		}
	}
	for _, step := range []struct {
		keep    int
		deleted int64
	}{{5, 0}, {3, 2}, {3, 0}, {1, 2 + 1 + 1}, {0, 3}} {
		n, err := st.TrimAttempts(ctx, step.keep)
		ok(t, err, fmt.Sprintf("TrimAttempts(%d)", step.keep))
		if n != step.deleted {
			t.Fatalf("TrimAttempts(%d) deleted %d, want %d", step.keep, n, step.deleted)
		}
		checkAll(fmt.Sprintf("after TrimAttempts(%d)", step.keep), step.keep)
	}
	if _, err := st.TrimAttempts(ctx, -1); err == nil {
		t.Fatal("TrimAttempts(-1) succeeded")
	}
}

func testDeleteJobHistory(t *testing.T, st store.JobStore) {
	ctx := t.Context()
	gone, kept := jobName("p1", "us-central1", "gone"), jobName("p1", "us-central1", "gone2")
	ok(t, st.CreateJob(ctx, jobRecord("p1", "us-central1", "gone", 1)), "CreateJob gone")
	ok(t, st.CreateJob(ctx, jobRecord("p1", "us-central1", "gone2", 2)), "CreateJob gone2")
	ok(t, st.AddAttempts(ctx, []store.Attempt{
		attempt(gone, jobBase, 1, 1), attempt(kept, jobBase, 1, 2), attempt(gone, jobBase.Add(time.Minute), 2, 3),
	}), "AddAttempts")

	ok(t, st.DeleteJob(ctx, gone), "DeleteJob")
	as, err := st.ListAttempts(ctx, gone, 0, time.Time{})
	ok(t, err, "ListAttempts of a deleted job")
	sameAttempts(t, as, nil, "ListAttempts of a deleted job")
	as, err = st.ListAttempts(ctx, kept, 0, time.Time{})
	ok(t, err, "ListAttempts of the other job")
	sameAttempts(t, as, []store.Attempt{attempt(kept, jobBase, 1, 2)}, "ListAttempts of the other job")
	// Nothing of it is left for TrimAttempts to count either.
	n, err := st.TrimAttempts(ctx, 0)
	ok(t, err, "TrimAttempts")
	if n != 1 {
		t.Fatalf("TrimAttempts(0) after the delete deleted %d, want the other job's 1", n)
	}

	ok(t, st.CreateJob(ctx, jobRecord("p1", "us-central1", "gone", 3)), "CreateJob gone again")
	as, err = st.ListAttempts(ctx, gone, 0, time.Time{})
	ok(t, err, "ListAttempts of the re-created job")
	sameAttempts(t, as, nil, "ListAttempts of the re-created job")
}

// ---- Transactions ----

// testJobBatchesInTx checks, in one transaction, that UpdateJobStates
// writes the states it does not refuse and the transaction goes on and
// commits them with its other writes, and that a rolled-back transaction
// leaves no state behind.
func testJobBatchesInTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	j0, j1 := jobRecord("p1", "us-central1", "j0", 1), jobRecord("p1", "us-central1", "j1", 2)
	ok(t, s.CreateJob(ctx, j0), "CreateJob j0")
	ok(t, s.CreateJob(ctx, j1), "CreateJob j1")
	j2 := jobRecord("p1", "us-central1", "j2", 3)
	kept := attempt(j2.Job.GetName(), jobBase, 1, 1)
	first := []store.JobState{
		{Name: j0.Job.GetName(), Version: 1, NextFire: jobBase, DueTime: jobBase, Result: &store.JobResult{Status: &statuspb.Status{Code: 7}}},
		{Name: j1.Job.GetName(), Version: 7, NextFire: jobBase}, // stale
	}
	second := store.JobState{Name: j1.Job.GetName(), Version: 1, ScheduleTime: jobBase}

	err := s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateJob(ctx, j2); err != nil {
			return err
		}
		refused, err := tx.UpdateJobStates(ctx, first)
		if err != nil {
			return err
		}
		if !slices.Equal(refused, []int{1}) {
			return fmt.Errorf("UpdateJobStates in a transaction refused %v, want [1]", refused)
		}
		if err := tx.AddAttempts(ctx, []store.Attempt{kept}); err != nil {
			return err
		}
		// The transaction sees its state writes and goes on.
		got, err := tx.GetJob(ctx, j0.Job.GetName())
		if err != nil {
			return err
		}
		if got.Version != 2 || got.Job.GetStatus().GetCode() != 7 {
			return fmt.Errorf("in the transaction, j0 is version %d with status %v", got.Version, got.Job.GetStatus())
		}
		refused, err = tx.UpdateJobStates(ctx, []store.JobState{second})
		if err != nil || len(refused) != 0 {
			return fmt.Errorf("second UpdateJobStates: refused %v, %v", refused, err)
		}
		return nil
	})
	ok(t, err, "InTx with a refused state")
	w0, w1 := withState(j0, first[0]), withState(j1, second)
	checkJob(t, s, w0, 2, "j0 after commit")
	checkJob(t, s, w1, 2, "j1 after commit")
	checkJob(t, s, j2, 1, "j2 after commit")
	as, err := s.ListAttempts(ctx, j2.Job.GetName(), 0, time.Time{})
	ok(t, err, "ListAttempts j2")
	sameAttempts(t, as, []store.Attempt{kept}, "attempts committed with the states")

	// Everything a rolled-back transaction did to jobs is undone.
	err = s.InTx(ctx, func(tx store.Tx) error {
		refused, err := tx.UpdateJobStates(ctx, []store.JobState{
			{Name: j0.Job.GetName(), Version: 2, Exec: &store.Execution{}, Result: &store.JobResult{}},
			{Name: j1.Job.GetName(), Version: 2, NextFire: jobBase.Add(time.Hour)},
		})
		if err != nil || len(refused) != 0 {
			return fmt.Errorf("UpdateJobStates: refused %v, %v", refused, err)
		}
		if err := tx.AddAttempts(ctx, []store.Attempt{attempt(j0.Job.GetName(), jobBase, 1, 2)}); err != nil {
			return err
		}
		if err := tx.DeleteJob(ctx, j2.Job.GetName()); err != nil {
			return err
		}
		if err := tx.CreateJob(ctx, jobRecord("p1", "us-central1", "j3", 4)); err != nil {
			return err
		}
		if n, err := tx.TrimAttempts(ctx, 0); err != nil || n != 1 {
			return fmt.Errorf("TrimAttempts in the transaction: %d, %v", n, err)
		}
		return errBoom
	})
	isErr(t, err, errBoom, "InTx rolled back")
	checkJob(t, s, w0, 2, "j0 after rollback")
	checkJob(t, s, w1, 2, "j1 after rollback")
	checkJob(t, s, j2, 1, "j2 after rollback")
	_, err = s.GetJob(ctx, jobName("p1", "us-central1", "j3"))
	isErr(t, err, store.ErrNotFound, "job created in a rolled-back transaction")
	for name, want := range map[string][]store.Attempt{j0.Job.GetName(): nil, j2.Job.GetName(): {kept}} {
		as, err := s.ListAttempts(ctx, name, 0, time.Time{})
		ok(t, err, "ListAttempts after rollback")
		sameAttempts(t, as, want, "attempts of "+name+" after rollback")
	}
}

// testConcurrentJobCAS runs the API's read / UpdateJob-with-version loop
// from several goroutines on the auto-commit methods: the version check and
// the write must be one step, or two writers succeed on one version and an
// update is lost.
func testConcurrentJobCAS(t *testing.T, s store.JobStore) {
	const workers, rounds = 8, 20
	ctx := t.Context()
	r := jobRecord("p1", "us-central1", "contended", 1)
	r.Job.Description = "0"
	ok(t, s.CreateJob(ctx, r), "CreateJob")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for done := 0; done < rounds; {
				cur, err := s.GetJob(ctx, r.Job.GetName())
				if err != nil {
					errs <- fmt.Errorf("worker %d: GetJob: %w", w, err)
					return
				}
				var n int
				if _, err := fmt.Sscan(cur.Job.GetDescription(), &n); err != nil {
					errs <- fmt.Errorf("worker %d: description %q: %w", w, cur.Job.GetDescription(), err)
					return
				}
				cur.Job.Description = fmt.Sprint(n + 1)
				switch err := s.UpdateJob(ctx, cur, cur.Version); {
				case err == nil:
					done++
				case !errors.Is(err, store.ErrVersionMismatch):
					errs <- fmt.Errorf("worker %d: UpdateJob: %w", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := s.GetJob(ctx, r.Job.GetName())
	ok(t, err, "GetJob")
	if got.Job.GetDescription() != fmt.Sprint(workers*rounds) || got.Version != workers*rounds+1 {
		t.Fatalf("after %d successful updates the job is version %d with count %q: updates were lost",
			workers*rounds, got.Version, got.Job.GetDescription())
	}
}

// testJobsBulk lists more jobs than fit a small page, in the sizes the
// engine reads (a backend may read or decode large results differently):
// every record whole and in order, through ScanJobs, ListJobs and DueJobs.
func testJobsBulk(t *testing.T, st store.JobStore) {
	ctx := t.Context()
	const n = 1100
	want := make(map[string]store.JobRecord, n)
	var names []string
	for i := range n {
		r := jobRecord("p1", "us-central1", fmt.Sprintf("bulk-%04d", (i*7919)%n), i)
		r.DueTime = jobBase.Add(time.Duration(n-i) * time.Second)
		if i%3 == 0 {
			r.Exec = nil
		}
		ok(t, st.CreateJob(ctx, r), "CreateJob")
		want[r.Job.GetName()] = r
		names = append(names, r.Job.GetName())
	}
	slices.Sort(names)
	check := func(what string, got []store.JobRecord, wantNames []string) {
		t.Helper()
		if g := jobNames(got); !slices.Equal(g, wantNames) {
			t.Fatalf("%s: %d jobs, not the %d wanted in order", what, len(g), len(wantNames))
		}
		for _, g := range got {
			sameJob(t, g, want[g.Job.GetName()], 1, what+" "+g.Job.GetName())
		}
	}
	all, err := st.ScanJobs(ctx, store.Page{})
	ok(t, err, "ScanJobs")
	check("ScanJobs", all, names)
	page, err := st.ScanJobs(ctx, store.Page{Size: 600, After: names[99]})
	ok(t, err, "ScanJobs page")
	check("ScanJobs page", page, names[100:700])
	listed, err := st.ListJobs(ctx, "p1", "us-central1", store.Page{Size: 1000})
	ok(t, err, "ListJobs")
	check("ListJobs", listed, names[:1000])

	byDue := slices.Clone(names)
	slices.SortFunc(byDue, func(a, b string) int { return want[a].DueTime.Compare(want[b].DueTime) })
	due, err := st.DueJobs(ctx, jobBase.Add(time.Duration(n)*time.Second), 0)
	ok(t, err, "DueJobs")
	check("DueJobs", due, byDue)
}
