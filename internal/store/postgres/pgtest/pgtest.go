// Package pgtest gives tests a fresh PostgreSQL database of their own.
//
// The server is the one $OIDCRON_TEST_POSTGRES names (a libpq URL to a
// database the user may CREATE DATABASE from), or else the local default
// postgres://postgres@127.0.0.1:5432/postgres. When the variable is set the
// server is required: a test that cannot reach it fails. When it is unset
// and nothing answers, the test is skipped, so that `go test ./...` works
// on a machine without PostgreSQL; CI sets the variable.
package pgtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oidcron/oidcron/internal/store/postgres/pgadmin"
)

// EnvVar names the server tests use.
const EnvVar = "OIDCRON_TEST_POSTGRES"

// DefaultURL is the server tried when EnvVar is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// NewDatabase creates an empty database for t, drops it when t ends, and
// returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin, required := os.Getenv(EnvVar), true
	if admin == "" {
		admin, required = DefaultURL, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !required {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Skipf("pgtest: no PostgreSQL at %s (set %s to require one): %v", DefaultURL, EnvVar, err)
		}
		conn.Close(ctx)
	}
	url, drop, err := pgadmin.CreateDatabase(ctx, admin, "oidcron_test_")
	if err != nil {
		t.Fatalf("pgtest: %s=%q: %v", EnvVar, admin, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := drop(ctx); err != nil {
			t.Error("pgtest:", err)
		}
	})
	return url
}
