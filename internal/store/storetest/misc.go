package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/oidcron/oidcron/internal/store"
)

func testOperations(t *testing.T, st store.Tx) {
	ctx := t.Context()
	const name = "projects/p1/locations/us-central1/operations/op-1"

	_, err := st.GetOperation(ctx, name)
	isErr(t, err, store.ErrNotFound, "GetOperation before put")

	op := operation(name, 1)
	want := clone(op)
	ok(t, st.PutOperation(ctx, op), "PutOperation")
	op.Done = !op.Done
	got, err := st.GetOperation(ctx, name)
	ok(t, err, "GetOperation")
	sameProto(t, got, want, "GetOperation")
	if got.GetMetadata() == nil {
		t.Fatalf("GetOperation: metadata lost: %v", got)
	}

	// Put replaces.
	op2 := operation(name, 2)
	ok(t, st.PutOperation(ctx, op2), "PutOperation again")
	got, err = st.GetOperation(ctx, name)
	ok(t, err, "GetOperation after replace")
	sameProto(t, got, op2, "GetOperation after replace")

	other := operation("projects/p1/locations/us-central1/operations/op-2", 3)
	ok(t, st.PutOperation(ctx, other), "PutOperation other")
	got, err = st.GetOperation(ctx, other.GetName())
	ok(t, err, "GetOperation other")
	sameProto(t, got, other, "GetOperation other")
	got, err = st.GetOperation(ctx, name)
	ok(t, err, "GetOperation first after other")
	sameProto(t, got, op2, "GetOperation first after other")
}

func testSigningKeys(t *testing.T, st store.Tx) {
	ctx := t.Context()
	keys, err := st.ListSigningKeys(ctx)
	ok(t, err, "ListSigningKeys of an empty store")
	if len(keys) != 0 {
		t.Fatalf("ListSigningKeys of an empty store: %d keys", len(keys))
	}
	ok(t, st.DeleteSigningKey(ctx, "absent"), "DeleteSigningKey of an absent key")

	// Times in several zones, with nanoseconds, and with monotonic readings
	// (time.Now) that must not survive the store.
	east := time.FixedZone("UTC+5:30", 5*3600+1800)
	west := time.FixedZone("UTC-8", -8*3600)
	base := time.Date(2026, 3, 8, 1, 59, 59, 999999999, west)
	now := time.Now()
	retired := store.SigningKey{
		KeyID: "k-old", PrivateDER: []byte{0x30, 0x82, 0x00, 0x01, 0xff},
		CreateTime:   base,
		ActivateTime: base.Add(time.Nanosecond),
		RetireTime:   base.Add(24 * time.Hour).In(east),
		DeleteTime:   base.Add(48*time.Hour + 7),
	}
	active := store.SigningKey{
		KeyID: "k-active", PrivateDER: []byte{0x30, 0x82, 0x00, 0x02},
		CreateTime:   base.Add(time.Hour).In(east),
		ActivateTime: base.Add(2 * time.Hour),
	}
	// The newest key has the smallest id: the order is by time, not by id.
	next := store.SigningKey{
		KeyID: "a-next", PrivateDER: []byte{0x30, 0x82, 0x00, 0x03},
		CreateTime: now,
	}
	for _, k := range []store.SigningKey{active, next, retired} {
		ok(t, st.PutSigningKey(ctx, k), "PutSigningKey "+k.KeyID)
	}
	checkKeys(t, st, retired, active, next)

	// Put replaces by id: the active key retires.
	active.RetireTime = now.Add(time.Minute)
	active.DeleteTime = now.Add(time.Hour).In(east)
	ok(t, st.PutSigningKey(ctx, active), "PutSigningKey replace")
	checkKeys(t, st, retired, active, next)

	ok(t, st.DeleteSigningKey(ctx, retired.KeyID), "DeleteSigningKey")
	checkKeys(t, st, active, next)
}

func checkKeys(t *testing.T, st store.Tx, want ...store.SigningKey) {
	t.Helper()
	got, err := st.ListSigningKeys(t.Context())
	ok(t, err, "ListSigningKeys")
	if len(got) != len(want) {
		t.Fatalf("ListSigningKeys: %d keys, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.KeyID != w.KeyID {
			t.Fatalf("ListSigningKeys[%d] is %q, want %q (ordered by CreateTime)", i, g.KeyID, w.KeyID)
		}
		if !bytes.Equal(g.PrivateDER, w.PrivateDER) {
			t.Fatalf("key %s: PrivateDER %x, want %x", w.KeyID, g.PrivateDER, w.PrivateDER)
		}
		sameTime(t, g.CreateTime, w.CreateTime, "key "+w.KeyID+" CreateTime")
		sameTime(t, g.ActivateTime, w.ActivateTime, "key "+w.KeyID+" ActivateTime")
		sameTime(t, g.RetireTime, w.RetireTime, "key "+w.KeyID+" RetireTime")
		sameTime(t, g.DeleteTime, w.DeleteTime, "key "+w.KeyID+" DeleteTime")
		// Comparable with ==, as a caller may: no monotonic reading, UTC.
		for _, tm := range []time.Time{g.CreateTime, g.ActivateTime, g.RetireTime, g.DeleteTime} {
			if tm != tm.Round(0) {
				t.Fatalf("key %s: a time carries a monotonic clock reading: %v", w.KeyID, tm)
			}
		}
	}
}

func testSettings(t *testing.T, st store.Tx) {
	ctx := t.Context()
	_, err := st.GetSetting(ctx, "admin-token")
	isErr(t, err, store.ErrNotFound, "GetSetting before put")

	value := []byte{'t', 0x00, 0xff, 'k'}
	ok(t, st.PutSetting(ctx, "admin-token", value), "PutSetting")
	value[0] = 'X' // the store kept its own copy
	got, err := st.GetSetting(ctx, "admin-token")
	ok(t, err, "GetSetting")
	if !bytes.Equal(got, []byte{'t', 0x00, 0xff, 'k'}) {
		t.Fatalf("GetSetting: %x", got)
	}

	ok(t, st.PutSetting(ctx, "admin-token", []byte("second")), "PutSetting replace")
	got, err = st.GetSetting(ctx, "admin-token")
	ok(t, err, "GetSetting after replace")
	if string(got) != "second" {
		t.Fatalf("GetSetting after replace: %q", got)
	}

	// An empty value is a value, not an absence.
	for _, empty := range [][]byte{nil, {}} {
		ok(t, st.PutSetting(ctx, "empty", empty), "PutSetting empty")
		got, err = st.GetSetting(ctx, "empty")
		ok(t, err, "GetSetting of an empty value")
		if len(got) != 0 {
			t.Fatalf("GetSetting of an empty value: %q", got)
		}
	}
	got, err = st.GetSetting(ctx, "admin-token")
	ok(t, err, "GetSetting of the first after another")
	if string(got) != "second" {
		t.Fatalf("GetSetting of the first after another: %q", got)
	}
	_, err = st.GetSetting(ctx, "admin")
	isErr(t, err, store.ErrNotFound, "GetSetting of a prefix")
}
