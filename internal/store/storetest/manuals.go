package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/oidcron/oidcron/internal/store"
)

// ---- RunJob's executions (store.Manual) ----

// manualExec is a manual execution with every field set, times in several
// zones, to the nanosecond. Manual is false: the store reads it back true.
func manualExec(seed int) store.Execution {
	base := jobBase.Add(time.Duration(seed) * time.Minute)
	return store.Execution{
		ScheduleTime: base,
		Attempts:     int32(seed%4 + 1),
		FirstAttempt: base.Add(time.Nanosecond).In(zoneEast),
		NextAttempt:  base.Add(10*time.Second + 3),
		Owner:        fmt.Sprintf("replica-%d", seed),
		LeaseUntil:   jobNow.Add(time.Duration(seed) * time.Second),
		Claim:        int64(seed)<<40 | 7,
	}
}

func sameManuals(t *testing.T, got, want []store.Manual, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d manual executions, want %d\n got: %+v\nwant: %+v", what, len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		at := fmt.Sprintf("%s [%d]", what, i)
		w.Exec.Manual = true
		sameTime(t, g.Exec.ScheduleTime, w.Exec.ScheduleTime, at+" ScheduleTime")
		sameTime(t, g.Exec.FirstAttempt, w.Exec.FirstAttempt, at+" FirstAttempt")
		sameTime(t, g.Exec.NextAttempt, w.Exec.NextAttempt, at+" NextAttempt")
		sameTime(t, g.Exec.LeaseUntil, w.Exec.LeaseUntil, at+" LeaseUntil")
		g.Exec.ScheduleTime, g.Exec.FirstAttempt, g.Exec.NextAttempt, g.Exec.LeaseUntil =
			w.Exec.ScheduleTime, w.Exec.FirstAttempt, w.Exec.NextAttempt, w.Exec.LeaseUntil
		if g != w {
			t.Fatalf("%s: got %+v, want %+v", at, got[i], w)
		}
	}
}

func listManuals(t *testing.T, st store.JobStore, want []store.Manual, what string) {
	t.Helper()
	got, err := st.ListManuals(t.Context())
	ok(t, err, what+": ListManuals")
	sameManuals(t, got, want, what)
}

func sameRefused(t *testing.T, got, want []int, what string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: refused %v, want %v", what, got, want)
	}
}

func testManuals(t *testing.T, st store.JobStore) {
	ctx := t.Context()
	a, b := jobName("p1", "us-central1", "a"), jobName("p1", "us-central1", "b")
	ok(t, st.CreateJob(ctx, jobRecord("p1", "us-central1", "a", 1)), "CreateJob a")
	ok(t, st.CreateJob(ctx, jobRecord("p1", "us-central1", "b", 2)), "CreateJob b")
	ra, err := st.GetJob(ctx, a)
	ok(t, err, "GetJob a")
	rb, err := st.GetJob(ctx, b)
	ok(t, err, "GetJob b")
	listManuals(t, st, nil, "an empty store")

	// Only of a job that exists, in the incarnation named.
	_, err = st.AddManual(ctx, store.Manual{Job: jobName("p1", "us-central1", "none"), Incarnation: 1, Exec: manualExec(1)})
	isErr(t, err, store.ErrNotFound, "AddManual of a job that does not exist")
	_, err = st.AddManual(ctx, store.Manual{Job: a, Incarnation: ra.Incarnation + 1, Exec: manualExec(1)})
	isErr(t, err, store.ErrNotFound, "AddManual of another incarnation")
	listManuals(t, st, nil, "after refused adds")

	want := []store.Manual{
		{Job: a, Incarnation: ra.Incarnation, Exec: manualExec(1)},
		{Job: b, Incarnation: rb.Incarnation, Exec: manualExec(2)},
		{Job: a, Incarnation: ra.Incarnation, Exec: store.Execution{ScheduleTime: jobBase}}, // not yet attempted
	}
	for i := range want {
		want[i].ID = 12345 // ignored
		id, err := st.AddManual(ctx, want[i])
		ok(t, err, "AddManual")
		if i > 0 && id <= want[i-1].ID {
			t.Fatalf("AddManual gave ID %d after %d: IDs must grow", id, want[i-1].ID)
		}
		want[i].ID = id
	}
	listManuals(t, st, want, "after three adds")

	// Writes are checked against the claim, made in order, and the refused
	// ones leave the others written.
	moved := manualExec(3)
	moved.Claim = want[0].Exec.Claim + 1
	refused, err := st.UpdateManuals(ctx, []store.ManualWrite{
		{ID: want[0].ID, Claim: want[0].Exec.Claim, Exec: &moved},     // written
		{ID: want[1].ID, Claim: want[1].Exec.Claim + 1, Exec: &moved}, // another claim holds it
		{ID: want[0].ID, Claim: want[0].Exec.Claim, Exec: nil},        // the claim moved on: refused
		{ID: want[2].ID + 1000, Claim: 0, Exec: &moved},               // no such execution
		{ID: want[2].ID, Claim: 0, Exec: nil},                         // ended
	})
	ok(t, err, "UpdateManuals")
	sameRefused(t, refused, []int{1, 2, 3}, "UpdateManuals")
	want[0].Exec = moved
	want = want[:2]
	listManuals(t, st, want, "after UpdateManuals")
	refused, err = st.UpdateManuals(ctx, nil)
	ok(t, err, "UpdateManuals of nothing")
	sameRefused(t, refused, nil, "UpdateManuals of nothing")

	// An ID is never given again, not even the newest one's once deleted.
	id, err := st.AddManual(ctx, store.Manual{Job: b, Incarnation: rb.Incarnation, Exec: manualExec(4)})
	ok(t, err, "AddManual")
	refused, err = st.UpdateManuals(ctx, []store.ManualWrite{{ID: id, Claim: manualExec(4).Claim}})
	ok(t, err, "UpdateManuals delete")
	sameRefused(t, refused, nil, "UpdateManuals delete")
	id2, err := st.AddManual(ctx, store.Manual{Job: b, Incarnation: rb.Incarnation, Exec: manualExec(5)})
	ok(t, err, "AddManual after a delete")
	if id2 <= id {
		t.Fatalf("AddManual gave ID %d after the deleted %d", id2, id)
	}
	want = append(want, store.Manual{ID: id2, Job: b, Incarnation: rb.Incarnation, Exec: manualExec(5)})

	// DeleteJob takes the job's executions with it, and only its own; a
	// job created again under the name has none.
	ok(t, st.DeleteJob(ctx, a), "DeleteJob a")
	listManuals(t, st, want[1:], "after DeleteJob a")
	ok(t, st.CreateJob(ctx, jobRecord("p1", "us-central1", "a", 3)), "CreateJob a again")
	_, err = st.AddManual(ctx, store.Manual{Job: a, Incarnation: ra.Incarnation, Exec: manualExec(6)})
	isErr(t, err, store.ErrNotFound, "AddManual of the deleted incarnation")
	listManuals(t, st, want[1:], "after creating a again")
}
