package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/identity"
)

// failingAccounts is an AccountSource whose store is down.
type failingAccounts struct{}

func (failingAccounts) AccountByUniqueID(context.Context, string) (identity.Account, error) {
	return identity.Account{}, errors.New("database is locked")
}

// A token that could not be judged because oidcron's own store failed is
// not the caller's fault: the verifier says so (a non-VerifyError), the
// gateway answers 500, and the API INTERNAL, not 401 "invalid
// credentials" to a client whose token is good.
func TestStoreFailureIsNotUnauthenticated(t *testing.T) {
	ctx := t.Context()
	st := openTestStore(t)
	clk := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	keys, err := identity.NewKeySet(ctx, st, clk, identity.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const issuer = "http://127.0.0.1:8930"
	minter := identity.NewMinter(keys, clk, issuer)
	s := New(Config{Store: st, Clock: clk, Minter: minter, RequireAuth: true, Issuer: issuer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Verifier: identity.NewVerifier(keys, clk, issuer, failingAccounts{})})
	acct := identity.Account{Email: "a@p.iam.gserviceaccount.com", UniqueID: "100000000000000000001", ProjectID: "p"}
	idt, _, err := minter.NewIDToken(ctx, acct, issuer, false)
	if err != nil {
		t.Fatal(err)
	}
	at, _, err := minter.AccessToken(ctx, acct, []string{"https://www.googleapis.com/auth/cloud-platform"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"id token": idt, "access token": at} {
		md := metadata.Pairs("authorization", "Bearer "+tok)
		_, err := s.authenticate(metadata.NewIncomingContext(ctx, md))
		if c := status.Code(err); c == codes.Unauthenticated || c == codes.OK {
			t.Errorf("%s with the store down: got %v, want INTERNAL or UNAVAILABLE (not the caller's fault)", name, err)
		}
	}
}
