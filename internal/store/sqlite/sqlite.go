// Package sqlite is the default store.Store: one SQLite file, written through
// modernc.org/sqlite (pure Go, no cgo).
//
// SQLite allows one writer at a time, so the Store keeps two pools on the
// file: a writer with exactly one connection, through which every write and
// every InTx goes (writers queue in Go instead of spinning on SQLITE_BUSY),
// and a pool of read-only connections that, thanks to WAL, read the last
// committed state concurrently with the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/oidcron/oidcron/internal/store"
)

// Connection parameters. The writer's are the ones proven in the integration
// notes: WAL so readers never block the writer nor it them; synchronous NORMAL,
// which in WAL mode loses no committed data on a crash of the process (only,
// possibly, the last transactions on a power cut) at a fraction of FULL's
// cost per commit; _txlock=immediate so a transaction takes the write lock at
// BEGIN, which is what makes a read-then-write in InTx serializable without
// retries. busy_timeout covers another process holding the file (a second
// oidcron, the sqlite3 shell).
//
// No memory map (mmap_size 0): pages are read with pread(2) into each
// connection's page cache, and the kernel's page cache, which is not the
// process's memory, holds the file. With a map, every page a connection
// read stayed mapped into the process, and the kernel maps the pages
// around a faulting one too: the engine's load at start reads only the
// narrow jobs table, but its pages lie between those of job_records (the
// two are written together), so a load of a million jobs made the whole
// 700 MB file resident in the process. Reading that table costs a system
// call per 4 KiB page, about 40,000 for a million jobs. The writer, which
// rewrites the same job rows burst after burst, keeps a larger cache
// (32 MiB) than the readers' default 2 MiB.
const (
	writerParams = "_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_pragma=mmap_size(0)&_pragma=cache_size(-32768)&_txlock=immediate"
	// Readers cannot write at all (query_only), so a write routed to the
	// wrong pool fails loudly instead of racing the writer.
	readerParams = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=mmap_size(0)&_query_only=1"
)

// Store is the SQLite backend. Its Tx methods, called directly, each run as
// one auto-committed statement: reads on the reader pool, writes on the
// writer.
type Store struct {
	queries
	writer *sql.DB
	reader *sql.DB
	// ws are the hot writes' statements, prepared once on the writer.
	ws *writerStmts
	// migrated lists the schema versions this Open applied, so that a test
	// can tell a re-open from a fresh database.
	migrated []int64
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed, with its parent directory) the database at
// path and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create the database directory: %w", err)
	}
	// The database holds signing keys and the admin token: it, and the WAL
	// and shared-memory files SQLite makes with its mode, are the owner's
	// alone, whatever the umask or a looser file left from before.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	f.Close()
	for _, p := range []string{abs, abs + "-wal", abs + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	// A file: URI, with the path escaped, so that a '?' or '#' in it is part
	// of the name and not the start of the parameters.
	base := "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath()

	writer, err := sql.Open("sqlite", base+"?"+writerParams)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)

	s := &Store{writer: writer}
	if err := s.init(ctx, base, abs); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

func (s *Store) init(ctx context.Context, base, abs string) error {
	// Readers depend on WAL; a file system that cannot do it (some network
	// mounts) would silently turn every read into a wait on the writer.
	var mode string
	if err := s.writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	if mode != "wal" {
		return fmt.Errorf("sqlite: open %s: journal mode is %q, want wal (is the file on a local file system?)", abs, mode)
	}
	applied, err := migrate(ctx, s.writer, migrationsFS())
	if err != nil {
		return err
	}
	s.migrated = applied

	// Opened after the migrations so that no reader ever sees a half-made schema.
	reader, err := sql.Open("sqlite", base+"?"+readerParams)
	if err != nil {
		return fmt.Errorf("sqlite: open %s for reading: %w", abs, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	s.reader = reader
	if err := reader.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: open %s for reading: %w", abs, err)
	}
	ws, err := prepareWriterStmts(ctx, s.writer)
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.ws = ws
	s.queries = queries{r: reader, w: s.writer, db: s.writer, ws: ws}
	return nil
}

// InTx runs fn in one transaction on the writer connection. SQLite
// serializes writers, and BEGIN IMMEDIATE takes the write lock before fn
// runs, so fn is never retried: no other writer can invalidate what it read.
//
// fn must use only tx. The Store's own write methods would wait for the one
// writer connection that fn holds, forever; its read methods run on another
// connection and do not see fn's uncommitted writes.
func (s *Store) InTx(ctx context.Context, fn func(tx store.Tx) error) (err error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	finished := false
	defer func() {
		// Also reached while fn panics or calls runtime.Goexit (t.FailNow):
		// the rollback releases the writer connection before the panic goes on.
		if !finished {
			if rbErr := ignoreTxDone(tx.Rollback()); rbErr != nil {
				err = errors.Join(err, fmt.Errorf("sqlite: rollback: %w", rbErr))
			}
		}
	}()
	if err := fn(queries{r: tx, w: tx, tx: tx, ws: s.ws}); err != nil {
		return err
	}
	finished = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	var errs []error
	// The statements before the writer, whose connection they live on.
	errs = append(errs, s.ws.close())
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	if s.writer != nil {
		errs = append(errs, s.writer.Close())
	}
	return errors.Join(errs...)
}
