package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/postgres/pgtest"
	"github.com/oidcron/oidcron/internal/store/storetest"
)

// openURL opens url and closes the Store when t ends.
func openURL(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// openFresh opens a database of t's own.
func openFresh(t testing.TB) *Store {
	t.Helper()
	return openURL(t, pgtest.NewDatabase(t))
}

// emptied opens url, a database that earlier tests wrote, with every table
// emptied. Creating a database per subtest of the conformance suite (about
// fifty) would cost most of a minute; emptying one costs milliseconds.
func emptied(t testing.TB, url string) *Store {
	t.Helper()
	s := openURL(t, url)
	ctx := t.Context()
	rows, err := s.pool.Query(ctx, `SELECT quote_ident(tablename) FROM pg_tables
		WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `TRUNCATE `+strings.Join(tables, ", ")+` RESTART IDENTITY`); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	url := pgtest.NewDatabase(t)
	storetest.Run(t, func(t *testing.T) store.Store { return emptied(t, url) })
}

func TestOpenRefusesEmptyURL(t *testing.T) {
	if _, err := Open(t.Context(), ""); err == nil {
		t.Fatal("Open accepted an empty URL")
	}
}

// The store's errors must stay matchable after InTx returns them.
func TestInTxReturnsFnErrorUnchanged(t *testing.T) {
	s := openFresh(t)
	want := errors.New("mine")
	if err := s.InTx(t.Context(), func(store.Tx) error { return want }); err != want {
		t.Fatalf("InTx returned %v, want fn's error itself", err)
	}
}

// TestUpdateJobStatesAllOrNothing: a state that cannot be stored (a time
// outside the range of nanoseconds) fails the call before anything of it
// is written.
func TestUpdateJobStatesAllOrNothing(t *testing.T) {
	storetest.RunTimeRange(t, openFresh(t))
}

// TestIsolation: the Store's statements and InTx run SERIALIZABLE.
func TestIsolation(t *testing.T) {
	s := openFresh(t)
	ctx := t.Context()
	level := func(q querier) string {
		t.Helper()
		var iso string
		if err := q.QueryRow(ctx, `SHOW transaction_isolation`).Scan(&iso); err != nil {
			t.Fatal(err)
		}
		return iso
	}
	if got := level(s.pool); got != "serializable" {
		t.Errorf("an auto-commit statement runs %s", got)
	}
	err := s.InTx(ctx, func(tx store.Tx) error {
		if got := level(tx.(queries).db); got != "serializable" {
			t.Errorf("InTx runs %s", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
