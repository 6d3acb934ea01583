package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/oidcron/oidcron/internal/store/migrations"
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

// migration is a file of the schema history and, when set, its step: the
// part of the migration that SQL cannot do (decoding records), run after
// the file in the same transaction.
type migration struct {
	migrations.File
	step func(ctx context.Context, tx *sql.Tx) error
}

// migrationSteps are the Go parts of migrations, by version.
var migrationSteps = map[int64]func(ctx context.Context, tx *sql.Tx) error{
	3: moveJobs0002,
}

// loadMigrations reads the migrations in fsys (migrations.Load says which
// sets it refuses), ordered by version, with their steps.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	files, err := migrations.Load(fsys)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	ms := make([]migration, len(files))
	for i, f := range files {
		ms[i] = migration{File: f, step: migrationSteps[f.Version]}
	}
	return ms, nil
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
		known = ms[len(ms)-1].Version
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
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

// applyMigration runs m unless it is already recorded, and reports whether it ran.
func applyMigration(ctx context.Context, db *sql.DB, m migration) (ran bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sqlite: migration %s: begin: %w", m.Name, err)
	}
	defer func() {
		if err != nil || !ran {
			if rbErr := ignoreTxDone(tx.Rollback()); rbErr != nil {
				err = errors.Join(err, fmt.Errorf("sqlite: migration %s: rollback: %w", m.Name, rbErr))
			}
		}
	}()
	var one int
	switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE version = ?`, m.Version).Scan(&one); {
	case err == nil:
		return false, nil // applied earlier
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
	}
	if m.step != nil {
		if err := m.step(ctx, tx); err != nil {
			return false, fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().UTC().UnixNano()); err != nil {
		return false, fmt.Errorf("sqlite: migration %s: record: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("sqlite: migration %s: commit: %w", m.Name, err)
	}
	return true, nil
}

func ignoreTxDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
