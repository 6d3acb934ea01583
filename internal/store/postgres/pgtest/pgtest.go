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
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if required {
			t.Fatalf("pgtest: %s=%q: %v", EnvVar, admin, err)
		}
		t.Skipf("pgtest: no PostgreSQL at %s (set %s to require one): %v", DefaultURL, EnvVar, err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "oidcron_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", admin, err)
	}
	u.Path = "/" + name
	return fmt.Sprint(u)
}
