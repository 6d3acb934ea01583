// Package storetest is the conformance suite of store.Store: every backend
// runs it, so that the API layer can rely on one behaviour whatever stores
// its data.
//
// A backend's test calls
//
//	storetest.Run(t, func(t *testing.T) store.Store {
//		s := openFreshStore(t)
//		t.Cleanup(func() { s.Close() })
//		return s
//	})
//
// The suite never sleeps: concurrency tests wait on goroutines, not on time.
package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/oidcron/oidcron/internal/store"
)

// Run runs the suite. open must return a new, empty store each time it is
// called (every subtest gets its own) and arrange for it to be closed when
// the test ends, with t.Cleanup. Subtests do not run in parallel, so a
// backend may give each the same database emptied.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	// The per-entity tests take a store.Tx and run twice: on the Store's
	// auto-commit methods and with every call in its own InTx, so that both
	// implementations are held to the same behaviour.
	entityTests := []struct {
		name string
		fn   func(t *testing.T, st store.Tx)
	}{
		{"Projects", testProjects},
		{"ProjectsPaging", testProjectsPaging},
		{"Policies", testPolicies},
		{"PolicyEtagOfNoPolicy", testPolicyEtagOfNoPolicy},
		{"ServiceAccounts", testServiceAccounts},
		{"ServiceAccountSoftDelete", testServiceAccountSoftDelete},
		{"ServiceAccountsPaging", testServiceAccountsPaging},
		{"Functions", testFunctions},
		{"FunctionsListing", testFunctionsListing},
		{"Operations", testOperations},
		{"SigningKeys", testSigningKeys},
		{"Settings", testSettings},
		{"OddKeys", testOddKeys},
		{"AttemptsBeforeAnyInstant", testAttemptsBeforeAnyInstant},
	}
	views := []struct {
		name string
		tx   func(store.Store) store.Tx
	}{
		{"Store", func(s store.Store) store.Tx { return s }},
		{"InTx", func(s store.Store) store.Tx { return perCallTx{s} }},
	}
	for _, v := range views {
		t.Run(v.name, func(t *testing.T) {
			for _, e := range entityTests {
				t.Run(e.name, func(t *testing.T) { e.fn(t, v.tx(open(t))) })
			}
			for _, e := range jobTests {
				t.Run(e.name, func(t *testing.T) { e.fn(t, v.tx(open(t))) })
			}
		})
	}

	txTests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Commit", testTxCommit},
		{"RollbackOnError", testTxRollbackOnError},
		{"RollbackOnStoreError", testTxRollbackOnStoreError},
		{"RollbackOnPanic", testTxRollbackOnPanic},
		{"Isolation", testTxIsolation},
		{"ConcurrentWriters", testTxConcurrentWriters},
		{"ConcurrentPolicyCAS", testConcurrentPolicyCAS},
		{"JobBatches", testJobBatchesInTx},
	}
	t.Run("Tx", func(t *testing.T) {
		for _, tt := range txTests {
			t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
		}
	})
}

// jobTests are the tests of the job store (store.JobStore), which
// RunJobStore also runs alone.
var jobTests = []struct {
	name string
	fn   func(t *testing.T, st store.JobStore)
}{
	{"Jobs", testJobs},
	{"JobsListing", testJobsListing},
	{"JobsBulk", testJobsBulk},
	{"GetJobs", testGetJobs},
	{"ScanJobHeads", testScanJobHeads},
	{"UpdateJobStates", testUpdateJobStates},
	{"LastSlot", testLastSlot},
	{"DueJobs", testDueJobs},
	{"Attempts", testAttempts},
	{"TrimAttempts", testTrimAttempts},
	{"DeleteJobHistory", testDeleteJobHistory},
	{"Manuals", testManuals},
	{"ConcurrentJobCAS", testConcurrentJobCAS},
}

// RunJobStore runs the job store's part of the suite against a
// store.JobStore alone: a test double of it (the scheduler's in-memory
// store) is held to the same contract as the backends. open must return a
// new, empty store each time.
func RunJobStore(t *testing.T, open func(t *testing.T) store.JobStore) {
	for _, e := range jobTests {
		t.Run(e.name, func(t *testing.T) { e.fn(t, open(t)) })
	}
}

// ---- Fixtures ----

func project(id string, number int64, seed int) *resourcemanagerpb.Project {
	p := filled(&resourcemanagerpb.Project{}, seed)
	p.ProjectId = id
	p.Name = fmt.Sprintf("projects/%d", number)
	return p
}

func saEmail(projectID, account string) string {
	return account + "@" + projectID + ".iam.gserviceaccount.com"
}

func serviceAccount(projectID, account, uniqueID string, seed int) *adminpb.ServiceAccount {
	sa := filled(&adminpb.ServiceAccount{}, seed)
	sa.ProjectId = projectID
	sa.UniqueId = uniqueID
	sa.Email = saEmail(projectID, account)
	sa.Name = "projects/" + projectID + "/serviceAccounts/" + sa.Email
	return sa
}

func function(projectID, location, id string, seed int) *functionspb.Function {
	f := filled(&functionspb.Function{}, seed)
	f.Name = "projects/" + projectID + "/locations/" + location + "/functions/" + id
	return f
}

func policy(etag string, seed int) *iampb.Policy {
	p := filled(&iampb.Policy{}, seed)
	p.Etag = []byte(etag)
	return p
}

func operation(name string, seed int) *longrunningpb.Operation {
	op := filled(&longrunningpb.Operation{}, seed)
	op.Name = name
	return op
}

func clone[T proto.Message](m T) T { return proto.Clone(m).(T) }

// ---- Assertions ----

func ok(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

func isErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func sameProto(t *testing.T, got, want proto.Message, what string) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Fatalf("%s: records differ\n got: %s\nwant: %s", what, prototext.Format(got), prototext.Format(want))
	}
}

// sameTime checks an instant that went through the store: equal to the
// nanosecond, and in UTC whatever zone it was stored in.
func sameTime(t *testing.T, got, want time.Time, what string) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Fatalf("%s: got %v, want the zero time", what, got)
		}
		return
	}
	if !got.Equal(want) {
		t.Fatalf("%s: got %s, want %s", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
	if got.Location() != time.UTC {
		t.Fatalf("%s: got zone %q, want UTC", what, got.Location())
	}
}

// checkPaging walks list with every page size from 1 to len(want)+1 and
// checks that each walk yields want (the keys in ascending byte order),
// that no page is larger than asked or empty while records remain, and that
// the walk ends with an empty page. It also checks Page{} (everything) and
// After values between, on and past the keys.
func checkPaging[T any](t *testing.T, want []string, list func(store.Page) ([]T, error), key func(T) string) {
	t.Helper()
	if !slices.IsSorted(want) {
		t.Fatalf("checkPaging: want must be sorted: %q", want)
	}
	keys := func(page []T) []string {
		out := make([]string, len(page))
		for i, r := range page {
			out[i] = key(r)
		}
		return out
	}
	all, err := list(store.Page{})
	ok(t, err, "list Page{}")
	if got := keys(all); !slices.Equal(got, want) {
		t.Fatalf("list Page{}: got %q, want %q", got, want)
	}
	for size := 1; size <= len(want)+1; size++ {
		var got []string
		after := ""
		for i := 0; ; i++ {
			if i > len(want)+1 {
				t.Fatalf("size %d: the walk does not end (keys so far %q)", size, got)
			}
			page, err := list(store.Page{Size: size, After: after})
			ok(t, err, fmt.Sprintf("list Page{Size:%d After:%q}", size, after))
			if len(page) > size {
				t.Fatalf("Page{Size:%d After:%q}: %d records", size, after, len(page))
			}
			if len(page) == 0 {
				if len(got) < len(want) {
					t.Fatalf("Page{Size:%d After:%q}: empty page with %q still to come", size, after, want[len(got):])
				}
				break
			}
			got = append(got, keys(page)...)
			after = key(page[len(page)-1])
		}
		if !slices.Equal(got, want) {
			t.Fatalf("walk with size %d: got %q, want %q", size, got, want)
		}
	}
	for i, k := range want {
		page, err := list(store.Page{After: k})
		ok(t, err, fmt.Sprintf("list Page{After:%q}", k))
		if got := keys(page); !slices.Equal(got, want[i+1:]) {
			t.Fatalf("Page{After:%q}: got %q, want %q", k, got, want[i+1:])
		}
		// After need not be a stored key: a key deleted between two pages
		// must not break the walk.
		between := k + "\x00"
		page, err = list(store.Page{After: between})
		ok(t, err, fmt.Sprintf("list Page{After:%q}", between))
		if got := keys(page); !slices.Equal(got, want[i+1:]) {
			t.Fatalf("Page{After:%q}: got %q, want %q", between, got, want[i+1:])
		}
	}
}
