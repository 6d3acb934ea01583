package identity

import (
	"context"
	"errors"
	"testing"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"

	"github.com/oidcron/oidcron/internal/store"
)

// saGetter mimics the store's GetServiceAccount: live accounts by email or
// unique id.
type saGetter map[string]*adminpb.ServiceAccount

func (g saGetter) GetServiceAccount(ctx context.Context, id string) (*adminpb.ServiceAccount, error) {
	for _, sa := range g {
		if sa.GetEmail() == id || sa.GetUniqueId() == id {
			return sa, nil
		}
	}
	return nil, store.ErrNotFound
}

func TestStoreAccounts(t *testing.T) {
	sa := &adminpb.ServiceAccount{Email: saJobs.Email, UniqueId: saJobs.UniqueID, ProjectId: "demo-project", Disabled: true}
	src := StoreAccounts{Store: saGetter{"x": sa}}
	ctx := context.Background()
	want := Account{Email: saJobs.Email, UniqueID: saJobs.UniqueID, ProjectID: "demo-project", Disabled: true}

	if a, err := src.AccountByUniqueID(ctx, saJobs.UniqueID); err != nil || a != want {
		t.Fatalf("by unique id: %+v %v", a, err)
	}
	// A token's sub is a unique id; an email there must not resolve.
	if _, err := src.AccountByUniqueID(ctx, saJobs.Email); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("email as sub: %v", err)
	}
	if _, err := src.AccountByUniqueID(ctx, "404"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	for _, id := range []string{saJobs.Email, saJobs.UniqueID} {
		if a, err := src.Lookup(ctx, id); err != nil || a != want {
			t.Fatalf("lookup %s: %+v %v", id, a, err)
		}
	}
	var _ AccountSource = src
	var _ AccountLookup = src.Lookup
}
