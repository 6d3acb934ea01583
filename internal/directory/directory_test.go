package directory

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/sqlite"
)

func open(t *testing.T) (*sqlite.Store, *clock.Fake, *Directory) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
	return st, clk, New(st, clk, time.Second)
}

func grant(t *testing.T, st store.Store, resource, role, member string) {
	t.Helper()
	p := iam.NormalizePolicy(&iampb.Policy{Bindings: []*iampb.Binding{{Role: role, Members: []string{member}}}})
	p.Etag = iam.ComputeEtag(p)
	if err := st.PutPolicy(context.Background(), resource, p, nil); err != nil {
		t.Fatal(err)
	}
}

// Answers are cached until Invalidate or the TTL, whichever comes first.
func TestCacheInvalidateAndTTL(t *testing.T) {
	ctx := context.Background()
	st, clk, d := open(t)
	sub := iam.Subject{Member: "user:a@example.com"}
	res := iam.ProjectResource("p")
	grant(t, st, res, "roles/viewer", sub.Member)
	if dec, _ := d.Authorize(ctx, sub, "resourcemanager.projects.get", res); !dec.Granted {
		t.Fatal("not granted")
	}
	// Revoked behind the directory's back: still cached...
	if err := st.DeletePolicy(ctx, res); err != nil {
		t.Fatal(err)
	}
	if dec, _ := d.Authorize(ctx, sub, "resourcemanager.projects.get", res); !dec.Granted {
		t.Fatal("cache not used")
	}
	// ... until the TTL passes (another replica's write) ...
	clk.Advance(time.Second)
	if dec, _ := d.Authorize(ctx, sub, "resourcemanager.projects.get", res); dec.Granted {
		t.Fatal("stale after TTL")
	}
	// ... or this process invalidates (its own write).
	grant(t, st, res, "roles/viewer", sub.Member)
	d.Invalidate()
	if dec, _ := d.Authorize(ctx, sub, "resourcemanager.projects.get", res); !dec.Granted {
		t.Fatal("stale after Invalidate")
	}
}

// A load that began before a write must not be cached after it: the
// directory drops answers computed across an Invalidate.
func TestLoadRacingInvalidateIsNotCached(t *testing.T) {
	ctx := context.Background()
	_, _, d := open(t)
	v, err := cached(ctx, d, "k", func(context.Context) (string, error) {
		d.Invalidate() // a write lands while the old value is being read
		return "old", nil
	})
	if v != "old" || err != nil {
		t.Fatalf("load returned %q %v", v, err)
	}
	v, _ = cached(ctx, d, "k", func(context.Context) (string, error) { return "new", nil })
	if v != "new" {
		t.Fatalf("stale value cached across Invalidate: %q", v)
	}
}

// A token's sub is a unique id; an email there must not find the account.
func TestAccountByUniqueIDRefusesEmails(t *testing.T) {
	ctx := context.Background()
	st, _, d := open(t)
	sa := &adminpb.ServiceAccount{Name: "projects/p/serviceAccounts/a@p.iam.gserviceaccount.com", ProjectId: "p",
		UniqueId: "123456789012345678901", Email: "a@p.iam.gserviceaccount.com"}
	if err := st.CreateServiceAccount(ctx, sa); err != nil {
		t.Fatal(err)
	}
	if a, err := d.AccountByUniqueID(ctx, sa.UniqueId); err != nil || a.Email != sa.Email {
		t.Fatalf("by id: %v %+v", err, a)
	}
	if _, err := d.AccountByUniqueID(ctx, sa.Email); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("by email: %v", err)
	}
	// Emails are case-insensitive for lookups.
	if a, err := d.Account(ctx, "A@P.iam.gserviceaccount.com"); err != nil || a.UniqueID != sa.UniqueId {
		t.Fatalf("mixed case: %v %+v", err, a)
	}
}
