package storetest

import (
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"github.com/oidcron/oidcron/internal/store"
)

// testOddKeys: a key no record can have is not found, whatever the backend
// can or cannot compare. A NUL is valid UTF-8, so it reaches the store from
// gRPC and REST alike (in a name's project or location segment).
func testOddKeys(t *testing.T, st store.Tx) {
	ctx := t.Context()
	_, err := st.GetJob(ctx, "projects/p/locations/l\x00/jobs/a")
	isErr(t, err, store.ErrNotFound, "GetJob of a name with a NUL")
	_, err = st.GetProject(ctx, "p\x00")
	isErr(t, err, store.ErrNotFound, "GetProject of an id with a NUL")
	_, err = st.GetServiceAccount(ctx, "a\x00@p.iam.gserviceaccount.com")
	isErr(t, err, store.ErrNotFound, "GetServiceAccount of an email with a NUL")
	_, err = st.GetFunction(ctx, "projects/p/locations/l/functions/\xff")
	isErr(t, err, store.ErrNotFound, "GetFunction of a name that is not UTF-8")
	rs, err := st.GetJobs(ctx, []string{"projects/p/locations/l/jobs/\x00"})
	ok(t, err, "GetJobs of a name with a NUL")
	if len(rs) != 0 {
		t.Fatalf("GetJobs of a name with a NUL = %d records", len(rs))
	}
}

// testAttemptsBeforeAnyInstant: ListAttempts' before may be any instant
// (the history API takes RFC 3339, years 0000 to 9999): every stored start
// is before one past the storable range, none before one under it.
func testAttemptsBeforeAnyInstant(t *testing.T, st store.Tx) {
	ctx := t.Context()
	const jn = "projects/p/locations/l/jobs/a"
	ok(t, st.CreateJob(ctx, store.JobRecord{Job: &schedulerpb.Job{Name: jn}}), "CreateJob")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ok(t, st.AddAttempts(ctx, []store.Attempt{{Job: jn, Number: 1, Start: t0, End: t0}}), "AddAttempts")
	as, err := st.ListAttempts(ctx, jn, 10, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
	ok(t, err, "ListAttempts before the year 3000")
	if len(as) != 1 {
		t.Fatalf("ListAttempts before the year 3000 = %d attempts, want 1", len(as))
	}
	as, err = st.ListAttempts(ctx, jn, 10, time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC))
	ok(t, err, "ListAttempts before the year 1600")
	if len(as) != 0 {
		t.Fatalf("ListAttempts before the year 1600 = %d attempts, want none", len(as))
	}
}
