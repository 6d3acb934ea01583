package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/rowcodec"
	"github.com/oidcron/oidcron/internal/store/storetest"
)

func openTemp(t testing.TB) *Store {
	t.Helper()
	// A directory that does not exist yet: Open creates it.
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "data", "oidcron.db"))
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

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

type migrationRow struct {
	version   int64
	name      string
	appliedAt int64
}

func migrationRows(t *testing.T, s *Store) []migrationRow {
	t.Helper()
	rows, err := s.reader.QueryContext(t.Context(), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []migrationRow
	for rows.Next() {
		var r migrationRow
		if err := rows.Scan(&r.version, &r.name, &r.appliedAt); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReopenKeepsDataAndAppliesNoMigration(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "oidcron.db")

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	all, err := loadMigrations(migrationsFS())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.migrated) != len(all) || len(all) == 0 {
		t.Fatalf("first Open applied %v, want all %d migrations", s.migrated, len(all))
	}
	p := &resourcemanagerpb.Project{Name: "projects/123", ProjectId: "kept", DisplayName: "Kept"}
	if err := s.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	before := migrationRows(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("re-Open: %v", err)
	}
	defer s.Close()
	if len(s.migrated) != 0 {
		t.Fatalf("re-Open applied migrations %v again", s.migrated)
	}
	// The records of the first Open are untouched: same applied_at.
	if after := migrationRows(t, s); !slices.Equal(after, before) {
		t.Fatalf("schema_migrations changed on re-open:\nbefore %v\nafter  %v", before, after)
	}
	got, err := s.GetProjectByNumber(ctx, 123)
	if err != nil || got.GetDisplayName() != "Kept" {
		t.Fatalf("project after re-open: %v, %v", got, err)
	}
	v, err := s.GetSetting(ctx, "k")
	if err != nil || string(v) != "v" {
		t.Fatalf("setting after re-open: %q, %v", v, err)
	}
}

func TestConnectionSettings(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	pragma := func(db *sql.DB, name string) string {
		t.Helper()
		var v string
		if err := db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		return v
	}
	for name, want := range map[string]string{"journal_mode": "wal", "synchronous": "1", "foreign_keys": "1", "busy_timeout": "5000", "query_only": "0", "mmap_size": "0", "cache_size": "-32768"} {
		if got := pragma(s.writer, name); got != want {
			t.Errorf("writer %s = %s, want %s", name, got, want)
		}
	}
	for name, want := range map[string]string{"query_only": "1", "mmap_size": "0"} {
		if got := pragma(s.reader, name); got != want {
			t.Errorf("reader %s = %s, want %s", name, got, want)
		}
	}
	if got := s.writer.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool allows %d connections, want 1", got)
	}
	// A write sent to the reader pool by mistake fails instead of competing
	// with the writer.
	if _, err := s.reader.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('x', x'00')`); err == nil {
		t.Error("the reader pool accepted a write")
	}
}

func TestOpenPathNeedsEscaping(t *testing.T) {
	// '?' and '#' would end the file name of a URI if not escaped, and '%'
	// would start an escape.
	dir := filepath.Join(t.TempDir(), "a dir #1")
	path := filepath.Join(dir, "what?100%.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.PutSetting(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not at the path given: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "what?100%.db") {
			t.Errorf("unexpected file %q beside the database", e.Name())
		}
	}
}

func TestMigrateEachInItsOwnTransaction(t *testing.T) {
	ctx := t.Context()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db")+"?"+writerParams)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	good := &fstest.MapFile{Data: []byte("CREATE TABLE a (x BIGINT);\nINSERT INTO a VALUES (1);")}
	bad := fstest.MapFS{
		"0001_a.sql": good,
		// The table is created, then the second statement fails: the
		// whole migration must be undone.
		"0002_b.sql": {Data: []byte("CREATE TABLE b (x BIGINT);\nINSERT INTO missing VALUES (1);")},
	}
	applied, err := migrate(ctx, db, bad)
	if err == nil || !strings.Contains(err.Error(), "0002_b.sql") {
		t.Fatalf("migrate with a failing migration: %v", err)
	}
	if !slices.Equal(applied, []int64{1}) {
		t.Fatalf("applied %v, want [1]", applied)
	}
	tableExists := func(name string) bool {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if !tableExists("a") || tableExists("b") {
		t.Fatalf("after a failed migration: table a exists %v (want true), b exists %v (want false)", tableExists("a"), tableExists("b"))
	}

	fixed := fstest.MapFS{
		"0001_a.sql": good,
		"0002_b.sql": {Data: []byte("CREATE TABLE b (x BIGINT);")},
	}
	applied, err = migrate(ctx, db, fixed)
	if err != nil || !slices.Equal(applied, []int64{2}) {
		t.Fatalf("migrate after the fix: applied %v, %v; want [2]", applied, err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM a`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("migration 1 ran again: %d rows in a, %v", n, err)
	}
	applied, err = migrate(ctx, db, fixed)
	if err != nil || len(applied) != 0 {
		t.Fatalf("migrate again: applied %v, %v; want nothing", applied, err)
	}

	// A database from a newer binary is refused.
	older := fstest.MapFS{"0001_a.sql": good}
	if _, err := migrate(ctx, db, older); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("migrate with fewer migrations than the database has: %v", err)
	}
}

func TestOpenRefusesEmptyPath(t *testing.T) {
	if _, err := Open(t.Context(), ""); err == nil {
		t.Fatal("Open accepted an empty path")
	}
}

// The store's errors must stay matchable after InTx returns them.
func TestInTxReturnsFnErrorUnchanged(t *testing.T) {
	s := openTemp(t)
	want := errors.New("mine")
	if err := s.InTx(t.Context(), func(store.Tx) error { return want }); err != want {
		t.Fatalf("InTx returned %v, want fn's error itself", err)
	}
}

// TestMigrate0003MovesJobs: a database of schema 0002 with jobs (one with
// an execution in flight, one paused with a status) opens with every job
// whole, its version kept, as incarnation 1, its fields copied into the
// narrow row, and the old table gone.
func TestMigrate0003MovesJobs(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path+"?"+writerParams)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	upTo2 := fstest.MapFS{}
	for _, name := range []string{"0001_init.sql", "0002_jobs.sql"} {
		b, err := fs.ReadFile(migrationsFS(), name)
		if err != nil {
			t.Fatal(err)
		}
		upTo2[name] = &fstest.MapFile{Data: b}
	}
	if _, err := migrate(ctx, db, upTo2); err != nil {
		t.Fatal(err)
	}
	running, paused := storetest.BenchJobRecord(0), storetest.BenchJobRecord(1)
	running.Version = 7
	running.Job.Status = &statuspb.Status{Code: 14, Message: "unavailable"}
	running.Job.LastAttemptTime = timestamppb.New(storetest.BenchT0.Add(time.Second))
	paused.Version = 3
	paused.Job.State = schedulerpb.Job_PAUSED
	paused.Job.ScheduleTime = nil
	paused.NextFire, paused.DueTime = time.Time{}, time.Time{}
	paused.Job.Status = &statuspb.Status{}
	for _, r := range []store.JobRecord{running, paused} {
		b, err := proto.Marshal(r.Job)
		if err != nil {
			t.Fatal(err)
		}
		st, err := stateColumns(r.NextFire, r.DueTime, time.Time{}, r.Exec)
		if err != nil {
			t.Fatal(err)
		}
		p, l, _ := rowcodec.JobKey(backend, r.Job.GetName())
		args := append([]any{r.Job.GetName(), p, l, r.Version, st.nextFire, st.due}, st.exec.args0002()...)
		if _, err := db.ExecContext(ctx, `INSERT INTO jobs (name, project_id, location, version, next_fire, due_time, `+execColumnList0002+`, record)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, append(args, b)...); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !slices.Equal(s.migrated, []int64{3, 4, 5, 6, 7}) {
		t.Fatalf("Open applied %v, want [3 4 5 6 7]", s.migrated)
	}
	// 0004: the scheduled execution in flight has fired its slot.
	running.LastSlot = running.Exec.ScheduleTime
	for _, want := range []store.JobRecord{running, paused} {
		got, err := s.GetJob(ctx, want.Job.GetName())
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got.Job, want.Job) || got.Version != want.Version || got.Incarnation != 1 ||
			!got.NextFire.Equal(want.NextFire) || !got.DueTime.Equal(want.DueTime) || (got.Exec == nil) != (want.Exec == nil) ||
			!got.LastSlot.Equal(want.LastSlot) {
			t.Fatalf("after the migration:\n got %+v %v\nwant %+v %v", got, got.Job, want, want.Job)
		}
	}
	heads, err := s.ScanJobHeads(ctx, store.Page{})
	if err != nil || len(heads) != 2 || heads[1].State != schedulerpb.Job_PAUSED || heads[0].Schedule != running.Job.GetSchedule() ||
		heads[0].TimeZone != running.Job.GetTimeZone() || heads[0].Exec == nil {
		t.Fatalf("heads after the migration: %+v, %v", heads, err)
	}
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name = 'jobs_0002'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the old table is left: %d, %v", n, err)
	}
	// The jobs go on being written.
	refused, err := s.UpdateJobStates(ctx, []store.JobState{{Name: running.Job.GetName(), Version: 7}})
	if err != nil || len(refused) != 0 {
		t.Fatalf("UpdateJobStates after the migration: %v, %v", refused, err)
	}
}
