package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// writerStmts are the statements of the engine's hot writes (its batches of
// claims, attempts and job states) and of a job's update, prepared once on
// the writer pool when the Store opens.
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
	updateState       *sql.Stmt // updateStateSQL
	updateStateResult *sql.Stmt // updateStateResultSQL
	updateJob         *sql.Stmt // updateJobSQL
	updateRecord      *sql.Stmt // updateJobRecordSQL
	addAttempt        *sql.Stmt // addAttemptSQL
	jobVersion        *sql.Stmt // jobVersionSQL
	// A job's creation, prepared for the bulk of them (a million jobs
	// created in one transaction parsed three statements a million times).
	tombstone    *sql.Stmt // tombstoneSQL
	createJob    *sql.Stmt // createJobSQL
	createRecord *sql.Stmt // createJobRecordSQL
}

const jobVersionSQL = `SELECT version FROM jobs WHERE name = ?`

func (ws *writerStmts) all() []**sql.Stmt {
	return []**sql.Stmt{&ws.updateState, &ws.updateStateResult, &ws.updateJob, &ws.updateRecord, &ws.addAttempt, &ws.jobVersion,
		&ws.tombstone, &ws.createJob, &ws.createRecord}
}

func prepareWriterStmts(ctx context.Context, db *sql.DB) (ws *writerStmts, err error) {
	ws = &writerStmts{}
	defer func() {
		if err != nil {
			err = errors.Join(err, ws.close())
			ws = nil
		}
	}()
	queries := []string{updateStateSQL, updateStateResultSQL, updateJobSQL, updateJobRecordSQL, addAttemptSQL, jobVersionSQL,
		tombstoneSQL, createJobSQL, createJobRecordSQL}
	for i, dst := range ws.all() {
		st, err := db.PrepareContext(ctx, queries[i])
		if err != nil {
			return nil, fmt.Errorf("prepare %q: %w", strings.Join(strings.Fields(queries[i]), " "), err)
		}
		*dst = st
	}
	return ws, nil
}

func (ws *writerStmts) close() error {
	if ws == nil {
		return nil
	}
	var errs []error
	for _, st := range ws.all() {
		if *st != nil {
			errs = append(errs, (*st).Close())
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
