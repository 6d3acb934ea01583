package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// migrationFiles holds the schema history. A file is never edited once
// released: databases in the field have already applied it, and the runner
// recognises it by number only. Change the schema with a new, higher number.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationsFS is the directory of migrations, as migrate reads it.
func migrationsFS() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the directory is embedded at build time; fs.Sub only fails on a bad name
	}
	return sub
}

type migration struct {
	version int64
	name    string
	sql     string
	// step, when set, runs after sql in the same transaction: the part of
	// a migration that SQL cannot do (decoding records).
	step func(ctx context.Context, tx *sql.Tx) error
}

// migrationSteps are the Go parts of migrations, by version.
var migrationSteps = map[int64]func(ctx context.Context, tx *sql.Tx) error{
	3: moveJobs0002,
}

// migrationName is NNNN_words.sql; the number orders the files and is what
// schema_migrations records.
var migrationName = regexp.MustCompile(`^([0-9]+)_([a-z0-9_]+)\.sql$`)

// loadMigrations reads every .sql file in fsys, ordered by version. A file
// that does not follow the naming rule, or two files with one version, are
// errors rather than something to skip: a skipped migration is a schema that
// silently differs between machines.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("sqlite: read migrations: %w", err)
	}
	var out []migration
	seen := map[int64]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("sqlite: migration file %q is not named NNNN_name.sql", e.Name())
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlite: migration file %q: the version must be a positive number", e.Name())
		}
		if prev, ok := seen[v]; ok {
			return nil, fmt.Errorf("sqlite: migrations %q and %q have the same version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("sqlite: read migration %q: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(body), step: migrationSteps[v]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrate applies, in version order, every migration in fsys that db has not
// recorded in schema_migrations, each in its own transaction together with
// its record, so that a failing migration leaves the schema as the previous
// one left it. It returns the versions it applied (none on a re-open).
//
// db must be the writer: with _txlock=immediate each transaction takes the
// write lock before reading schema_migrations, so two processes opening one
// file at once apply each migration exactly once.
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS) ([]int64, error) {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT NOT NULL PRIMARY KEY,
		name       TEXT   NOT NULL,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return nil, fmt.Errorf("sqlite: create schema_migrations: %w", err)
	}

	// A database migrated by a newer binary has a schema this one does not
	// know; writing to it could corrupt what the newer code relies on.
	var newest sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&newest); err != nil {
		return nil, fmt.Errorf("sqlite: read schema_migrations: %w", err)
	}
	known := int64(0)
	if len(ms) > 0 {
		known = ms[len(ms)-1].version
	}
	if newest.Valid && newest.Int64 > known {
		return nil, fmt.Errorf("sqlite: the database has schema version %d, newer than this binary knows (%d); use a newer oidcron", newest.Int64, known)
	}

	var applied []int64
	for _, m := range ms {
		done, err := applyMigration(ctx, db, m)
		if err != nil {
			return applied, err
		}
		if done {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

// applyMigration runs m unless it is already recorded, and reports whether it ran.
func applyMigration(ctx context.Context, db *sql.DB, m migration) (ran bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sqlite: migration %s: begin: %w", m.name, err)
	}
	defer func() {
		if err != nil || !ran {
			if rbErr := ignoreTxDone(tx.Rollback()); rbErr != nil {
				err = errors.Join(err, fmt.Errorf("sqlite: migration %s: rollback: %w", m.name, rbErr))
			}
		}
	}()
	var one int
	switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE version = ?`, m.version).Scan(&one); {
	case err == nil:
		return false, nil // applied earlier
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("sqlite: migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("sqlite: migration %s: %w", m.name, err)
	}
	if m.step != nil {
		if err := m.step(ctx, tx); err != nil {
			return false, fmt.Errorf("sqlite: migration %s: %w", m.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().UTC().UnixNano()); err != nil {
		return false, fmt.Errorf("sqlite: migration %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("sqlite: migration %s: commit: %w", m.name, err)
	}
	return true, nil
}

func ignoreTxDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
