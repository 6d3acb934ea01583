package storetest

import (
	"fmt"
	"slices"
	"testing"

	"cloud.google.com/go/functions/apiv2/functionspb"

	"github.com/oidcron/oidcron/internal/store"
)

func testFunctions(t *testing.T, st store.Tx) {
	ctx := t.Context()
	f := function("p1", "us-central1", "hello", 1)
	name := f.GetName()

	_, err := st.GetFunction(ctx, name)
	isErr(t, err, store.ErrNotFound, "GetFunction before create")
	isErr(t, st.UpdateFunction(ctx, f), store.ErrNotFound, "UpdateFunction before create")
	isErr(t, st.DeleteFunction(ctx, name), store.ErrNotFound, "DeleteFunction before create")

	want := clone(f)
	ok(t, st.CreateFunction(ctx, f), "CreateFunction")
	f.Description = "changed by the caller after create"
	got, err := st.GetFunction(ctx, name)
	ok(t, err, "GetFunction")
	sameProto(t, got, want, "GetFunction")
	if got.GetUpdateTime() == nil || got.GetBuildConfig() == nil || got.GetServiceConfig() == nil {
		t.Fatalf("GetFunction: nested messages or timestamps lost: %v", got)
	}

	isErr(t, st.CreateFunction(ctx, function("p1", "us-central1", "hello", 2)), store.ErrAlreadyExists, "CreateFunction twice")
	got, err = st.GetFunction(ctx, name)
	ok(t, err, "GetFunction after a refused create")
	sameProto(t, got, want, "GetFunction after a refused create")

	// The same short name elsewhere is another function.
	for _, n := range []string{
		"projects/p1/locations/europe-west1/functions/hello",
		"projects/p2/locations/us-central1/functions/hello",
		"projects/p1/locations/us-central1/functions/hell",
	} {
		_, err := st.GetFunction(ctx, n)
		isErr(t, err, store.ErrNotFound, "GetFunction "+n)
	}

	upd := clone(want)
	upd.Description = "says hello"
	upd.State = functionspb.Function_FAILED
	upd.Labels = map[string]string{"team": "a"}
	ok(t, st.UpdateFunction(ctx, upd), "UpdateFunction")
	got, err = st.GetFunction(ctx, name)
	ok(t, err, "GetFunction after update")
	sameProto(t, got, upd, "GetFunction after update")

	ok(t, st.DeleteFunction(ctx, name), "DeleteFunction")
	_, err = st.GetFunction(ctx, name)
	isErr(t, err, store.ErrNotFound, "GetFunction after delete")
	isErr(t, st.DeleteFunction(ctx, name), store.ErrNotFound, "DeleteFunction twice")
	isErr(t, st.UpdateFunction(ctx, upd), store.ErrNotFound, "UpdateFunction after delete")
	all, err := st.ListFunctions(ctx, "p1", "-", store.Page{})
	ok(t, err, "ListFunctions after delete")
	if len(all) != 0 {
		t.Fatalf("ListFunctions after delete: %v", all)
	}

	// A deleted name can be used again.
	again := function("p1", "us-central1", "hello", 3)
	ok(t, st.CreateFunction(ctx, again), "CreateFunction after delete")
	got, err = st.GetFunction(ctx, name)
	ok(t, err, "GetFunction after re-create")
	sameProto(t, got, again, "GetFunction after re-create")
}

func testFunctionsListing(t *testing.T, st store.Tx) {
	ctx := t.Context()
	type loc struct{ project, location string }
	byLoc := map[loc][]string{}
	byProject := map[string][]string{}
	seed := 0
	// Created in no particular order; p10 and p1 share a prefix, and so do
	// the locations us-east1 and us-east10 (not a real region, but a name
	// the store must not match by prefix).
	for _, id := range []string{"f-2", "f-10", "a", "zz", "f-1"} {
		for _, l := range []loc{{"p1", "us-central1"}, {"p1", "europe-west1"}, {"p10", "us-central1"}, {"p1", "us-east10"}} {
			if l.location == "us-east10" && id != "a" {
				continue
			}
			seed++
			f := function(l.project, l.location, id, seed)
			ok(t, st.CreateFunction(ctx, f), "CreateFunction "+f.GetName())
			byLoc[l] = append(byLoc[l], f.GetName())
			byProject[l.project] = append(byProject[l.project], f.GetName())
		}
	}
	name := (*functionspb.Function).GetName

	for l, names := range byLoc {
		slices.Sort(names)
		t.Run(fmt.Sprintf("%s/%s", l.project, l.location), func(t *testing.T) {
			checkPaging(t, names, func(p store.Page) ([]*functionspb.Function, error) {
				return st.ListFunctions(ctx, l.project, l.location, p)
			}, name)
		})
	}
	for project, names := range byProject {
		slices.Sort(names)
		t.Run(project+"/-", func(t *testing.T) {
			checkPaging(t, names, func(p store.Page) ([]*functionspb.Function, error) {
				return st.ListFunctions(ctx, project, "-", p)
			}, name)
		})
	}

	for _, l := range []loc{{"p1", "us-east1"}, {"p2", "-"}, {"p2", "us-central1"}, {"p", "-"}} {
		fs, err := st.ListFunctions(ctx, l.project, l.location, store.Page{Size: 10})
		ok(t, err, fmt.Sprintf("ListFunctions %s %s", l.project, l.location))
		if len(fs) != 0 {
			t.Fatalf("ListFunctions %s %s: want none, got %d", l.project, l.location, len(fs))
		}
	}

	// Listed records are whole.
	fs, err := st.ListFunctions(ctx, "p1", "europe-west1", store.Page{Size: 1})
	ok(t, err, "ListFunctions")
	got, err := st.GetFunction(ctx, fs[0].GetName())
	ok(t, err, "GetFunction")
	sameProto(t, fs[0], got, "listed function")
	if fs[0].GetBuildConfig() == nil {
		t.Fatalf("listed function lost its build config: %v", fs[0])
	}
}
