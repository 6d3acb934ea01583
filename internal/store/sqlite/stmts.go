package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// writerStmts are the statements of the engine's hot writes (its batches of
// claims, attempts and job states, and a job written alone), prepared once
// on the writer pool when the Store opens.
//
// At a steady rate every batch holds one or two jobs, and parsing its
// statements again each time cost more than running them. The writer pool
// has exactly one connection, so each statement is prepared on it once and
// stays there: the Store's own writes run it directly, and a transaction
// takes it with Tx.StmtContext, which finds the statement already prepared
// on the transaction's connection and re-uses it. (Were the connection ever
// replaced, database/sql would prepare the statement again on the new one.)
//
// They are all prepared up front because a statement cannot be prepared on
// the pool while a transaction holds its one connection: DB.PrepareContext
// would wait for it forever.
type writerStmts struct {
	updateJob  *sql.Stmt // updateJobSQL
	addAttempt *sql.Stmt // addAttemptSQL
	jobVersion *sql.Stmt // jobVersionSQL
	// versions[k] reads the versions of 1<<k names (jobVersionsSQL); a
	// shorter list is padded to the next size by repeating its last name.
	versions [versionSizes]*sql.Stmt
}

const (
	// versionSizes is how many IN-list lengths are prepared: 1, 2, 4, ...,
	// versionChunk.
	versionSizes = 10
	// versionChunk bounds the names of one IN list, well below SQLite's (and
	// PostgreSQL's) limit on parameters.
	versionChunk = 1 << (versionSizes - 1)

	jobVersionSQL = `SELECT version FROM jobs WHERE name = ?`
)

func jobVersionsSQL(n int) string {
	return `SELECT name, version FROM jobs WHERE name IN (?` + strings.Repeat(`, ?`, n-1) + `)`
}

// versionSize returns the index into versions of the shortest prepared IN
// list that holds n names (1 <= n <= versionChunk).
func versionSize(n int) int {
	k := 0
	for 1<<k < n {
		k++
	}
	return k
}

func prepareWriterStmts(ctx context.Context, db *sql.DB) (ws *writerStmts, err error) {
	ws = &writerStmts{}
	defer func() {
		if err != nil {
			err = errors.Join(err, ws.close())
			ws = nil
		}
	}()
	prep := func(dst **sql.Stmt, query string) error {
		st, err := db.PrepareContext(ctx, query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", strings.Join(strings.Fields(query), " "), err)
		}
		*dst = st
		return nil
	}
	if err := prep(&ws.updateJob, updateJobSQL); err != nil {
		return nil, err
	}
	if err := prep(&ws.addAttempt, addAttemptSQL); err != nil {
		return nil, err
	}
	if err := prep(&ws.jobVersion, jobVersionSQL); err != nil {
		return nil, err
	}
	for k := range ws.versions {
		if err := prep(&ws.versions[k], jobVersionsSQL(1<<k)); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

func (ws *writerStmts) close() error {
	if ws == nil {
		return nil
	}
	var errs []error
	for _, st := range append([]*sql.Stmt{ws.updateJob, ws.addAttempt, ws.jobVersion}, ws.versions[:]...) {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// stmtIn returns st, one of the writer's prepared statements, for use in tx,
// or st itself (on the writer pool) when tx is nil. done must be called
// when the statement is no longer used.
func stmtIn(ctx context.Context, tx *sql.Tx, st *sql.Stmt) (_ *sql.Stmt, done func()) {
	if tx == nil {
		return st, func() {}
	}
	// Finds the statement already prepared on tx's connection, the
	// writer's only one, and re-uses it; closing the copy leaves it there.
	p := tx.StmtContext(ctx, st)
	return p, func() { p.Close() }
}
