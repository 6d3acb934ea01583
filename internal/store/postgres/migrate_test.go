package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"github.com/jackc/pgx/v5"

	"github.com/oidcron/oidcron/internal/store/postgres/pgtest"
)

type migrationRow struct {
	version   int64
	name      string
	appliedAt time.Time
}

func migrationRows(t *testing.T, s *Store) []migrationRow {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	var out []migrationRow
	var r migrationRow
	if _, err := pgx.ForEachRow(rows, []any{&r.version, &r.name, &r.appliedAt}, func() error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func allVersions(t *testing.T) []int64 {
	t.Helper()
	ms, err := loadMigrations(migrationsFS())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	var vs []int64
	for _, m := range ms {
		vs = append(vs, m.Version)
	}
	return vs
}

// TestConcurrentOpen: replicas starting together on a fresh database all
// open it, and each migration runs exactly once (a second run of the first
// one would fail on CREATE TABLE; the counts say who ran what).
func TestConcurrentOpen(t *testing.T) {
	const replicas = 8
	url := pgtest.NewDatabase(t)
	want := allVersions(t)
	stores := make([]*Store, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), url)
		})
	}
	close(start)
	wg.Wait()
	var ran []int64
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { s.Close() })
		ran = append(ran, s.migrated...)
	}
	if t.Failed() {
		return
	}
	slices.Sort(ran)
	if !slices.Equal(ran, want) {
		t.Fatalf("the replicas applied %v between them, want each of %v once", ran, want)
	}
	rows := migrationRows(t, stores[0])
	if len(rows) != len(want) {
		t.Fatalf("schema_migrations has %d rows, want %d: %v", len(rows), len(want), rows)
	}
	// Every replica can use the schema at once.
	for i, s := range stores {
		if err := s.PutSetting(t.Context(), fmt.Sprint("replica-", i), []byte{byte(i)}); err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
}

func TestReopenKeepsDataAndAppliesNoMigration(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !slices.Equal(s.migrated, allVersions(t)) {
		t.Fatalf("first Open applied %v, want %v", s.migrated, allVersions(t))
	}
	p := &resourcemanagerpb.Project{Name: "projects/123", ProjectId: "kept", DisplayName: "Kept"}
	if err := s.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	before := migrationRows(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openURL(t, url)
	if len(s.migrated) != 0 {
		t.Fatalf("re-Open applied migrations %v again", s.migrated)
	}
	if after := migrationRows(t, s); !slices.Equal(after, before) {
		t.Fatalf("schema_migrations changed on re-open:\nbefore %v\nafter  %v", before, after)
	}
	got, err := s.GetProjectByNumber(ctx, 123)
	if err != nil || got.GetDisplayName() != "Kept" {
		t.Fatalf("project after re-open: %v, %v", got, err)
	}
}

// advisoryLocksSQL, completed with a condition and ")", asks whether an
// advisory lock of this database (not of the other tests' databases on the
// server) is in pg_locks.
const advisoryLocksSQL = `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`

// connect opens a plain connection to a fresh database for the migration
// runner.
func connect(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestMigrateEachInItsOwnTransaction(t *testing.T) {
	ctx := t.Context()
	conn := connect(t)
	good := &fstest.MapFile{Data: []byte("CREATE TABLE a (x BIGINT);\nINSERT INTO a VALUES (1);")}
	bad := fstest.MapFS{
		"0001_a.sql": good,
		// The table is created, then the second statement fails: the
		// whole migration must be undone.
		"0002_b.sql": {Data: []byte("CREATE TABLE b (x BIGINT);\nINSERT INTO missing VALUES (1);")},
	}
	applied, err := migrate(ctx, conn, bad)
	if err == nil || !strings.Contains(err.Error(), "0002_b.sql") {
		t.Fatalf("migrate with a failing migration: %v", err)
	}
	if !slices.Equal(applied, []int64{1}) {
		t.Fatalf("applied %v, want [1]", applied)
	}
	tableExists := func(name string) bool {
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !tableExists("a") || tableExists("b") {
		t.Fatalf("after a failed migration: table a exists %v (want true), b exists %v (want false)", tableExists("a"), tableExists("b"))
	}
	// The failure released the lock: another session can take it.
	var locked bool
	if err := conn.QueryRow(ctx, advisoryLocksSQL+` AND granted)`).Scan(&locked); err != nil || locked {
		t.Fatalf("an advisory lock is still held after migrate returned: %v, %v", locked, err)
	}

	fixed := fstest.MapFS{
		"0001_a.sql": good,
		"0002_b.sql": {Data: []byte("CREATE TABLE b (x BIGINT);")},
	}
	applied, err = migrate(ctx, conn, fixed)
	if err != nil || !slices.Equal(applied, []int64{2}) {
		t.Fatalf("migrate after the fix: applied %v, %v; want [2]", applied, err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM a`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("migration 1 ran again: %d rows in a, %v", n, err)
	}
	applied, err = migrate(ctx, conn, fixed)
	if err != nil || len(applied) != 0 {
		t.Fatalf("migrate again: applied %v, %v; want nothing", applied, err)
	}

	// A database from a newer binary is refused.
	older := fstest.MapFS{"0001_a.sql": good}
	if _, err := migrate(ctx, conn, older); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("migrate with fewer migrations than the database has: %v", err)
	}
}

// TestMigrateWaitsForTheLock: a migration runner that finds the lock
// taken waits for it, and then applies nothing that the holder applied.
func TestMigrateWaitsForTheLock(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	holder, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		t.Fatal(err)
	}
	type result struct {
		s   *Store
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Open(ctx, url)
		done <- result{s, err}
	}()
	// Open is waiting once its session shows up among the lock's waiters
	// (the server's lock table is polled: it is the only way to see it).
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		var waiting bool
		if err := holder.QueryRow(ctx, advisoryLocksSQL+` AND NOT granted)`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("Open returned (%v) while another session held the migration lock", r.err)
		case <-deadline.C:
			t.Fatal("Open never waited for the migration lock")
		case <-tick.C:
		}
	}
	// The holder migrates meanwhile, as another replica would.
	if _, err := migrate(ctx, holder, migrationsFS()); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_unlock($1)`, migrationLock); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("Open after the lock was released: %v", r.err)
	}
	defer r.s.Close()
	if len(r.s.migrated) != 0 {
		t.Fatalf("Open applied %v that the lock's holder had applied", r.s.migrated)
	}
}
