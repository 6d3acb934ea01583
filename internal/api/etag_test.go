package api

import (
	"testing"

	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/store"
)

// The store compares against the empty policy's etag that iam hands out;
// the two packages must agree on it.
func TestEmptyPolicyEtagAgrees(t *testing.T) {
	if string(iam.EmptyPolicyEtag) != store.EmptyPolicyEtag {
		t.Fatalf("iam %x, store %x", iam.EmptyPolicyEtag, store.EmptyPolicyEtag)
	}
}
