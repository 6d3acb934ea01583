// Package pgadmin creates and drops databases on a PostgreSQL server: the
// fresh, private databases of tests (pgtest) and benchmark runs.
package pgadmin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
)

// CreateDatabase creates an empty database named prefix and a random
// suffix on the server admin names (a postgres:// URL to a database the
// user may CREATE DATABASE from), for a test or a benchmark run that must
// see nothing of another's. It returns the new database's URL and drop,
// which removes it WITH (FORCE): a connection left open must not keep it.
func CreateDatabase(ctx context.Context, admin, prefix string) (dbURL string, drop func(context.Context) error, err error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("pgadmin: %q is not a postgres:// URL", admin)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	if err := adminExec(ctx, admin, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("pgadmin: create database: %w", err)
	}
	drop = func(ctx context.Context) error {
		if err := adminExec(ctx, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("pgadmin: drop database %s: %w", name, err)
		}
		return nil
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// adminExec runs one statement on its own connection to admin.
func adminExec(ctx context.Context, admin, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}
