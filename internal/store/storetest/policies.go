package storetest

import (
	"fmt"
	"testing"

	"github.com/oidcron/oidcron/internal/store"
)

func testPolicies(t *testing.T, st store.Tx) {
	ctx := t.Context()
	const res = "projects/p1"
	testListPolicies(t, st)

	_, err := st.GetPolicy(ctx, res)
	isErr(t, err, store.ErrNotFound, "GetPolicy before any put")
	ok(t, st.DeletePolicy(ctx, res), "DeletePolicy of an absent policy")

	p1 := policy("etag-1", 1)
	want := clone(p1)
	ok(t, st.PutPolicy(ctx, res, p1, nil), "PutPolicy blind")
	p1.Bindings = nil // the store kept its own copy
	got, err := st.GetPolicy(ctx, res)
	ok(t, err, "GetPolicy")
	sameProto(t, got, want, "GetPolicy")
	if len(got.GetBindings()) == 0 || got.GetBindings()[0].GetCondition() == nil || len(got.GetAuditConfigs()) == 0 {
		t.Fatalf("GetPolicy: bindings, conditions or audit configs lost: %v", got)
	}

	// A nil expectEtag overwrites whatever is there.
	p2 := policy("etag-2", 2)
	ok(t, st.PutPolicy(ctx, res, p2, nil), "PutPolicy blind overwrite")
	got, err = st.GetPolicy(ctx, res)
	ok(t, err, "GetPolicy after overwrite")
	sameProto(t, got, p2, "GetPolicy after overwrite")

	// Stale etags, and the empty policy's etag while a policy is stored,
	// are refused and write nothing.
	for _, stale := range [][]byte{[]byte("etag-1"), []byte(store.EmptyPolicyEtag), {}, []byte("etag-2\x00")} {
		err := st.PutPolicy(ctx, res, policy("etag-x", 3), stale)
		isErr(t, err, store.ErrEtagMismatch, fmt.Sprintf("PutPolicy with etag %q while %q is stored", stale, "etag-2"))
		got, err = st.GetPolicy(ctx, res)
		ok(t, err, "GetPolicy after a refused put")
		sameProto(t, got, p2, fmt.Sprintf("GetPolicy after a refused put with etag %q", stale))
	}

	// The etag read is the etag that writes.
	p3 := policy("etag-3", 3)
	ok(t, st.PutPolicy(ctx, res, p3, got.GetEtag()), "PutPolicy with the current etag")
	got, err = st.GetPolicy(ctx, res)
	ok(t, err, "GetPolicy after compare-and-swap")
	sameProto(t, got, p3, "GetPolicy after compare-and-swap")
	isErr(t, st.PutPolicy(ctx, res, policy("etag-4", 4), []byte("etag-2")), store.ErrEtagMismatch, "PutPolicy with the etag before last")

	// Policies are per resource, by exact name.
	for _, other := range []string{"projects/p", "projects/p1/serviceAccounts/sa@p1.iam.gserviceaccount.com", "//oidcron"} {
		_, err := st.GetPolicy(ctx, other)
		isErr(t, err, store.ErrNotFound, "GetPolicy of "+other)
	}

	// Delete, then the resource is back to having no policy.
	ok(t, st.DeletePolicy(ctx, res), "DeletePolicy")
	_, err = st.GetPolicy(ctx, res)
	isErr(t, err, store.ErrNotFound, "GetPolicy after delete")
	isErr(t, st.PutPolicy(ctx, res, policy("etag-5", 5), []byte("etag-3")), store.ErrEtagMismatch, "PutPolicy with the deleted policy's etag")
	p5 := policy("etag-5", 5)
	ok(t, st.PutPolicy(ctx, res, p5, []byte(store.EmptyPolicyEtag)), "PutPolicy with the empty etag after delete")
	got, err = st.GetPolicy(ctx, res)
	ok(t, err, "GetPolicy after re-create")
	sameProto(t, got, p5, "GetPolicy after re-create")
}

func testPolicyEtagOfNoPolicy(t *testing.T, st store.Tx) {
	ctx := t.Context()
	const res = "projects/p1/locations/us-central1/functions/f1"

	// The constant is Google's etag of the empty policy, "ACAB" in base64.
	if store.EmptyPolicyEtag != "\x00\x20\x01" {
		t.Fatalf("store.EmptyPolicyEtag = %q, want %q", store.EmptyPolicyEtag, "\x00\x20\x01")
	}

	// With no stored policy, every non-nil etag but the empty policy's is stale.
	for _, stale := range [][]byte{{}, []byte("etag-1"), {0x00, 0x20}, {0x00, 0x20, 0x01, 0x00}, {0x01, 0x20, 0x01}} {
		err := st.PutPolicy(ctx, res, policy("etag-1", 1), stale)
		isErr(t, err, store.ErrEtagMismatch, fmt.Sprintf("PutPolicy with etag %q and no stored policy", stale))
		_, err = st.GetPolicy(ctx, res)
		isErr(t, err, store.ErrNotFound, fmt.Sprintf("GetPolicy after a refused put with etag %q", stale))
	}

	p := policy("etag-1", 1)
	ok(t, st.PutPolicy(ctx, res, p, []byte{0x00, 0x20, 0x01}), "PutPolicy with the empty policy's etag")
	got, err := st.GetPolicy(ctx, res)
	ok(t, err, "GetPolicy")
	sameProto(t, got, p, "GetPolicy")

	// A stored policy whose etag is the empty policy's (someone stored an
	// empty policy) is matched like any other etag.
	const root = "//oidcron"
	ok(t, st.PutPolicy(ctx, root, policy(store.EmptyPolicyEtag, 2), nil), "PutPolicy of an empty policy")
	p3 := policy("etag-3", 3)
	ok(t, st.PutPolicy(ctx, root, p3, []byte(store.EmptyPolicyEtag)), "PutPolicy over a stored empty policy")
	got, err = st.GetPolicy(ctx, root)
	ok(t, err, "GetPolicy of the root")
	sameProto(t, got, p3, "GetPolicy of the root")
}

// ListPolicies pages by resource name; it runs on an empty store first.
func testListPolicies(t *testing.T, st store.Tx) {
	ctx := t.Context()
	all, err := st.ListPolicies(ctx, store.Page{})
	ok(t, err, "ListPolicies of an empty store")
	if len(all) != 0 {
		t.Fatalf("ListPolicies of an empty store: %d", len(all))
	}
	names := []string{"projects/b", "projects/a", "projects/a/serviceAccounts/x@a.iam.gserviceaccount.com"}
	for i, r := range names {
		ok(t, st.PutPolicy(ctx, r, policy(fmt.Sprintf("e%d", i), i+1), nil), "PutPolicy "+r)
	}
	page, err := st.ListPolicies(ctx, store.Page{Size: 2})
	ok(t, err, "ListPolicies page 1")
	if len(page) != 2 || page[0].Resource != "projects/a" || page[1].Resource != "projects/a/serviceAccounts/x@a.iam.gserviceaccount.com" {
		t.Fatalf("ListPolicies page 1: %v", page)
	}
	sameProto(t, page[0].Policy, policy("e1", 2), "ListPolicies record")
	rest, err := st.ListPolicies(ctx, store.Page{Size: 2, After: page[1].Resource})
	ok(t, err, "ListPolicies page 2")
	if len(rest) != 1 || rest[0].Resource != "projects/b" {
		t.Fatalf("ListPolicies page 2: %v", rest)
	}
	for _, r := range names {
		ok(t, st.DeletePolicy(ctx, r), "DeletePolicy "+r)
	}
}
