package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"

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

// loadMigrations reads the migrations in fsys (migrations.Load says which
// sets it refuses), ordered by version.
func loadMigrations(fsys fs.FS) ([]migrations.File, error) {
	ms, err := migrations.Load(fsys)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return ms, nil
}

// migrationLock is the key of the session-level advisory lock that
// migrate holds while it reads and applies migrations ("oidcron" and a
// 1, as bytes). Replicas that start together all call Open at once: the
// lock makes them take turns, so that each migration runs exactly once
// and the later ones find it recorded. Every oidcron binary must use the
// same key.
const migrationLock int64 = 0x6f6964_63726f6e_01

// migrate applies, in version order, every migration in fsys that the
// database has not recorded in schema_migrations, each in its own
// transaction together with its record, so that a failing migration leaves
// the schema as the previous one left it. It returns the versions it
// applied (none when another process applied them first).
//
// conn is a connection of its own, not one of the pool's: the advisory
// lock belongs to the session, and closing the connection releases it even
// if the unlock below cannot be sent.
func migrate(ctx context.Context, conn *pgx.Conn, fsys fs.FS) (applied []int64, err error) {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return nil, fmt.Errorf("postgres: take the migration lock: %w", err)
	}
	defer func() {
		// Not ctx: the lock must go even when ctx has ended.
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock); uerr != nil {
			err = errors.Join(err, fmt.Errorf("postgres: release the migration lock: %w", uerr))
		}
	}()
	// Created under the lock: two sessions racing CREATE TABLE IF NOT
	// EXISTS can both miss the table and one then fails on the catalog's
	// unique index.
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT      NOT NULL PRIMARY KEY,
		name       TEXT        NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
	)`); err != nil {
		return nil, fmt.Errorf("postgres: create schema_migrations: %w", err)
	}

	done := map[int64]bool{}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("postgres: read schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("postgres: read schema_migrations: %w", err)
	}
	// A database migrated by a newer binary has a schema this one does not
	// know; writing to it could corrupt what the newer code relies on.
	known := int64(0)
	if len(ms) > 0 {
		known = ms[len(ms)-1].Version
	}
	for _, v := range versions {
		done[v] = true
		if v > known {
			return nil, fmt.Errorf("postgres: the database has schema version %d, newer than this binary knows (%d); use a newer oidcron", v, known)
		}
	}

	for _, m := range ms {
		if done[m.Version] {
			continue
		}
		if err := applyMigration(ctx, conn, m); err != nil {
			return applied, err
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// applyMigration runs m and records it, in one transaction.
func applyMigration(ctx context.Context, conn *pgx.Conn, m migrations.File) error {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// Without arguments pgx sends the file with the simple protocol,
		// which runs several statements in one message.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
	}
	return nil
}
