package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"

	"github.com/oidcron/oidcron/internal/store"
)

func testProjects(t *testing.T, st store.Tx) {
	ctx := t.Context()

	_, err := st.GetProject(ctx, "p1")
	isErr(t, err, store.ErrNotFound, "GetProject before create")
	_, err = st.GetProjectByNumber(ctx, 101)
	isErr(t, err, store.ErrNotFound, "GetProjectByNumber before create")
	isErr(t, st.UpdateProject(ctx, project("p1", 101, 1)), store.ErrNotFound, "UpdateProject before create")

	p1 := project("p1", 101, 1)
	want := clone(p1)
	ok(t, st.CreateProject(ctx, p1), "CreateProject p1")
	// The store keeps its own copy: neither the caller's message nor a
	// returned one is an alias of it.
	p1.DisplayName = "changed by the caller after create"
	got, err := st.GetProject(ctx, "p1")
	ok(t, err, "GetProject p1")
	sameProto(t, got, want, "GetProject p1")
	if got.GetCreateTime() == nil || got.GetUpdateTime() == nil || got.GetDeleteTime() == nil {
		t.Fatalf("GetProject p1: timestamps lost: %v", got)
	}
	got.DisplayName = "changed by the caller after get"
	got, err = st.GetProject(ctx, "p1")
	ok(t, err, "GetProject p1 again")
	sameProto(t, got, want, "GetProject p1 again")
	got, err = st.GetProjectByNumber(ctx, 101)
	ok(t, err, "GetProjectByNumber 101")
	sameProto(t, got, want, "GetProjectByNumber 101")

	// Both keys are unique, and a refused create writes nothing.
	isErr(t, st.CreateProject(ctx, project("p1", 102, 2)), store.ErrAlreadyExists, "CreateProject with a used project id")
	_, err = st.GetProjectByNumber(ctx, 102)
	isErr(t, err, store.ErrNotFound, "GetProjectByNumber after a refused create")
	isErr(t, st.CreateProject(ctx, project("p2", 101, 3)), store.ErrAlreadyExists, "CreateProject with a used number")
	_, err = st.GetProject(ctx, "p2")
	isErr(t, err, store.ErrNotFound, "GetProject after a refused create")
	got, err = st.GetProject(ctx, "p1")
	ok(t, err, "GetProject p1 after refused creates")
	sameProto(t, got, want, "GetProject p1 after refused creates")

	p2 := project("p2", 102, 4)
	ok(t, st.CreateProject(ctx, p2), "CreateProject p2")

	upd := clone(want)
	upd.DisplayName = "renamed"
	upd.State = resourcemanagerpb.Project_DELETE_REQUESTED
	upd.UpdateTime.Seconds++
	ok(t, st.UpdateProject(ctx, upd), "UpdateProject p1")
	got, err = st.GetProject(ctx, "p1")
	ok(t, err, "GetProject after update")
	sameProto(t, got, upd, "GetProject after update")

	// Moving to a number another project has is refused and changes nothing.
	taken := clone(upd)
	taken.Name = "projects/102"
	taken.DisplayName = "should not be stored"
	isErr(t, st.UpdateProject(ctx, taken), store.ErrAlreadyExists, "UpdateProject to a used number")
	got, err = st.GetProject(ctx, "p1")
	ok(t, err, "GetProject after a refused update")
	sameProto(t, got, upd, "GetProject after a refused update")
	got, err = st.GetProjectByNumber(ctx, 102)
	ok(t, err, "GetProjectByNumber 102 after a refused update")
	sameProto(t, got, p2, "GetProjectByNumber 102 after a refused update")

	// The number index follows an update.
	moved := clone(upd)
	moved.Name = "projects/103"
	ok(t, st.UpdateProject(ctx, moved), "UpdateProject to a new number")
	got, err = st.GetProjectByNumber(ctx, 103)
	ok(t, err, "GetProjectByNumber 103")
	sameProto(t, got, moved, "GetProjectByNumber 103")
	_, err = st.GetProjectByNumber(ctx, 101)
	isErr(t, err, store.ErrNotFound, "GetProjectByNumber of the old number")
}

func testProjectsPaging(t *testing.T, st store.Tx) {
	ctx := t.Context()
	all, err := st.ListProjects(ctx, store.Page{Size: 10})
	ok(t, err, "ListProjects of an empty store")
	if len(all) != 0 {
		t.Fatalf("ListProjects of an empty store: %d records", len(all))
	}
	// Ids that sort differently as numbers and as bytes.
	ids := []string{"p-2", "p-10", "q", "p-1", "p-03", "a-project"}
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for i, id := range ids {
		ok(t, st.CreateProject(ctx, project(id, int64(1000+i), i)), "CreateProject "+id)
	}
	want := slices.Sorted(slices.Values(ids))
	checkPaging(t, want, func(p store.Page) ([]*resourcemanagerpb.Project, error) {
		return st.ListProjects(ctx, p)
	}, (*resourcemanagerpb.Project).GetProjectId)

	// Records come back whole.
	all, err = st.ListProjects(ctx, store.Page{})
	ok(t, err, "ListProjects")
	for _, p := range all {
		i := slices.Index(ids, p.GetProjectId())
		sameProto(t, p, project(ids[i], int64(1000+i), i), fmt.Sprintf("ListProjects record %s", p.GetProjectId()))
	}
}
