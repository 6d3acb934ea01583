package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"

	"github.com/oidcron/oidcron/internal/store"
)

func testServiceAccounts(t *testing.T, st store.Tx) {
	ctx := t.Context()
	sa := serviceAccount("p1", "runner", "100000000000000000001", 1)

	_, err := st.GetServiceAccount(ctx, sa.GetEmail())
	isErr(t, err, store.ErrNotFound, "GetServiceAccount by email before create")
	_, err = st.GetServiceAccount(ctx, sa.GetUniqueId())
	isErr(t, err, store.ErrNotFound, "GetServiceAccount by unique id before create")
	isErr(t, st.UpdateServiceAccount(ctx, sa), store.ErrNotFound, "UpdateServiceAccount before create")

	want := clone(sa)
	ok(t, st.CreateServiceAccount(ctx, sa), "CreateServiceAccount")
	sa.DisplayName = "changed by the caller after create"
	for _, key := range []string{want.GetEmail(), want.GetUniqueId()} {
		got, err := st.GetServiceAccount(ctx, key)
		ok(t, err, "GetServiceAccount "+key)
		sameProto(t, got, want, "GetServiceAccount "+key)
	}
	// Lookups are exact: no prefix or partial match.
	for _, key := range []string{"runner", "10000000000000000000", want.GetEmail() + "x", ""} {
		_, err := st.GetServiceAccount(ctx, key)
		isErr(t, err, store.ErrNotFound, "GetServiceAccount "+key)
	}

	// Live accounts are unique by email and by unique id; a refused create
	// writes nothing.
	sameEmail := serviceAccount("p1", "runner", "100000000000000000002", 2)
	isErr(t, st.CreateServiceAccount(ctx, sameEmail), store.ErrAlreadyExists, "CreateServiceAccount with a used email")
	_, err = st.GetServiceAccount(ctx, sameEmail.GetUniqueId())
	isErr(t, err, store.ErrNotFound, "GetServiceAccount after a refused create")
	sameID := serviceAccount("p1", "other", want.GetUniqueId(), 3)
	isErr(t, st.CreateServiceAccount(ctx, sameID), store.ErrAlreadyExists, "CreateServiceAccount with a used unique id")
	_, err = st.GetServiceAccount(ctx, sameID.GetEmail())
	isErr(t, err, store.ErrNotFound, "GetServiceAccount after a refused create")

	// Update, by unique id.
	upd := clone(want)
	upd.DisplayName = "Runner"
	upd.Description = "runs things"
	upd.Disabled = !upd.Disabled
	ok(t, st.UpdateServiceAccount(ctx, upd), "UpdateServiceAccount")
	got, err := st.GetServiceAccount(ctx, upd.GetEmail())
	ok(t, err, "GetServiceAccount after update")
	sameProto(t, got, upd, "GetServiceAccount after update")

	// An update may not take another live account's email.
	other := serviceAccount("p1", "other", "100000000000000000003", 4)
	ok(t, st.CreateServiceAccount(ctx, other), "CreateServiceAccount other")
	clash := clone(other)
	clash.Email = upd.GetEmail()
	clash.DisplayName = "should not be stored"
	isErr(t, st.UpdateServiceAccount(ctx, clash), store.ErrAlreadyExists, "UpdateServiceAccount to a used email")
	got, err = st.GetServiceAccount(ctx, other.GetUniqueId())
	ok(t, err, "GetServiceAccount other after a refused update")
	sameProto(t, got, other, "GetServiceAccount other after a refused update")
	got, err = st.GetServiceAccount(ctx, upd.GetEmail())
	ok(t, err, "GetServiceAccount after a refused update")
	sameProto(t, got, upd, "GetServiceAccount after a refused update")

	unknown := serviceAccount("p1", "ghost", "100000000000000000999", 5)
	isErr(t, st.UpdateServiceAccount(ctx, unknown), store.ErrNotFound, "UpdateServiceAccount of an unknown unique id")
}

func testServiceAccountSoftDelete(t *testing.T, st store.Tx) {
	ctx := t.Context()
	old := serviceAccount("p1", "runner", "100000000000000000001", 1)
	ok(t, st.CreateServiceAccount(ctx, old), "CreateServiceAccount")

	isErr(t, st.DeleteServiceAccount(ctx, "100000000000000000999", time.Now()), store.ErrNotFound, "DeleteServiceAccount of an unknown id")
	_, _, err := st.GetDeletedServiceAccount(ctx, old.GetUniqueId())
	isErr(t, err, store.ErrNotFound, "GetDeletedServiceAccount of a live account")
	isErr(t, st.UndeleteServiceAccount(ctx, old.GetUniqueId()), store.ErrNotFound, "UndeleteServiceAccount of a live account")
	isErr(t, st.UndeleteServiceAccount(ctx, "100000000000000000999"), store.ErrNotFound, "UndeleteServiceAccount of an unknown id")
	_, _, err = st.GetDeletedServiceAccount(ctx, "100000000000000000999")
	isErr(t, err, store.ErrNotFound, "GetDeletedServiceAccount of an unknown id")

	// Deleted at an instant given in another zone, to the nanosecond.
	at := time.Date(2026, 11, 23, 9, 30, 15, 123456789, time.FixedZone("UTC-5", -5*3600))
	ok(t, st.DeleteServiceAccount(ctx, old.GetUniqueId(), at), "DeleteServiceAccount")

	for _, key := range []string{old.GetEmail(), old.GetUniqueId()} {
		_, err := st.GetServiceAccount(ctx, key)
		isErr(t, err, store.ErrNotFound, "GetServiceAccount of a deleted account by "+key)
	}
	list, err := st.ListServiceAccounts(ctx, "p1", store.Page{})
	ok(t, err, "ListServiceAccounts")
	if len(list) != 0 {
		t.Fatalf("ListServiceAccounts lists a deleted account: %v", list)
	}
	isErr(t, st.UpdateServiceAccount(ctx, old), store.ErrNotFound, "UpdateServiceAccount of a deleted account")
	isErr(t, st.DeleteServiceAccount(ctx, old.GetUniqueId(), at), store.ErrNotFound, "DeleteServiceAccount twice")

	got, gotAt, err := st.GetDeletedServiceAccount(ctx, old.GetUniqueId())
	ok(t, err, "GetDeletedServiceAccount")
	sameProto(t, got, old, "GetDeletedServiceAccount")
	sameTime(t, gotAt, at, "GetDeletedServiceAccount deletion time")

	// The email is free again; the unique id is not.
	reuse := serviceAccount("p1", "runner", "100000000000000000002", 2)
	ok(t, st.CreateServiceAccount(ctx, reuse), "CreateServiceAccount with a deleted account's email")
	isErr(t, st.CreateServiceAccount(ctx, serviceAccount("p1", "fresh", old.GetUniqueId(), 3)),
		store.ErrAlreadyExists, "CreateServiceAccount with a deleted account's unique id")
	got, err = st.GetServiceAccount(ctx, old.GetEmail())
	ok(t, err, "GetServiceAccount of the reused email")
	sameProto(t, got, reuse, "GetServiceAccount of the reused email")

	// Undelete is refused while the email is held, and changes nothing.
	isErr(t, st.UndeleteServiceAccount(ctx, old.GetUniqueId()), store.ErrAlreadyExists, "UndeleteServiceAccount while its email is reused")
	_, gotAt, err = st.GetDeletedServiceAccount(ctx, old.GetUniqueId())
	ok(t, err, "GetDeletedServiceAccount after a refused undelete")
	sameTime(t, gotAt, at, "deletion time after a refused undelete")
	got, err = st.GetServiceAccount(ctx, old.GetEmail())
	ok(t, err, "GetServiceAccount after a refused undelete")
	sameProto(t, got, reuse, "GetServiceAccount after a refused undelete")

	// Two deleted accounts may share an email.
	at2 := at.Add(time.Hour + 1)
	ok(t, st.DeleteServiceAccount(ctx, reuse.GetUniqueId(), at2), "DeleteServiceAccount of the reuser")
	_, gotAt, err = st.GetDeletedServiceAccount(ctx, reuse.GetUniqueId())
	ok(t, err, "GetDeletedServiceAccount of the reuser")
	sameTime(t, gotAt, at2, "deletion time of the reuser")

	// Now the old account can come back, whole, and is live again.
	ok(t, st.UndeleteServiceAccount(ctx, old.GetUniqueId()), "UndeleteServiceAccount")
	for _, key := range []string{old.GetEmail(), old.GetUniqueId()} {
		got, err := st.GetServiceAccount(ctx, key)
		ok(t, err, "GetServiceAccount after undelete by "+key)
		sameProto(t, got, old, "GetServiceAccount after undelete by "+key)
	}
	_, _, err = st.GetDeletedServiceAccount(ctx, old.GetUniqueId())
	isErr(t, err, store.ErrNotFound, "GetDeletedServiceAccount after undelete")
	isErr(t, st.UndeleteServiceAccount(ctx, old.GetUniqueId()), store.ErrNotFound, "UndeleteServiceAccount twice")
	list, err = st.ListServiceAccounts(ctx, "p1", store.Page{})
	ok(t, err, "ListServiceAccounts after undelete")
	if len(list) != 1 || list[0].GetUniqueId() != old.GetUniqueId() {
		t.Fatalf("ListServiceAccounts after undelete: %v", list)
	}
	// The undeleted account is an ordinary live one again.
	upd := clone(old)
	upd.DisplayName = "back"
	ok(t, st.UpdateServiceAccount(ctx, upd), "UpdateServiceAccount after undelete")
	got, err = st.GetServiceAccount(ctx, old.GetUniqueId())
	ok(t, err, "GetServiceAccount after update")
	sameProto(t, got, upd, "GetServiceAccount after update")
}

func testServiceAccountsPaging(t *testing.T, st store.Tx) {
	ctx := t.Context()
	n := 0
	create := func(projectID, account string) *adminpb.ServiceAccount {
		t.Helper()
		n++
		// 21 digits, as Google's unique ids.
		sa := serviceAccount(projectID, account, fmt.Sprintf("1%020d", n), n)
		ok(t, st.CreateServiceAccount(ctx, sa), "CreateServiceAccount "+sa.GetEmail())
		return sa
	}
	var want []string
	for _, a := range []string{"zeta", "alpha", "mid-2", "mid-10", "beta"} {
		want = append(want, create("p1", a).GetEmail())
	}
	// Another project, one whose id extends p1's, and a deleted account
	// of p1: none of them is listed.
	create("p10", "alpha")
	create("p2", "alpha")
	gone := create("p1", "gone")
	ok(t, st.DeleteServiceAccount(ctx, gone.GetUniqueId(), time.Now()), "DeleteServiceAccount")
	slices.Sort(want)

	checkPaging(t, want, func(p store.Page) ([]*adminpb.ServiceAccount, error) {
		return st.ListServiceAccounts(ctx, "p1", p)
	}, (*adminpb.ServiceAccount).GetEmail)
	checkPaging(t, []string{saEmail("p10", "alpha")}, func(p store.Page) ([]*adminpb.ServiceAccount, error) {
		return st.ListServiceAccounts(ctx, "p10", p)
	}, (*adminpb.ServiceAccount).GetEmail)
	none, err := st.ListServiceAccounts(ctx, "p3", store.Page{Size: 5})
	ok(t, err, "ListServiceAccounts of a project without accounts")
	if len(none) != 0 {
		t.Fatalf("ListServiceAccounts of a project without accounts: %v", none)
	}
}
