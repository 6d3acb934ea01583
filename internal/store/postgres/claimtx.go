package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/oidcron/oidcron/internal/store"
)

// A claim is two round trips on one connection of the pool: BEGIN, the
// lease check and the locking statement in one batch; then, once plan has
// run in Go, the states and COMMIT in another (a ROLLBACK when nothing is
// written). Several replicas waking for the same due time make most claims
// empty, so their cost is mostly round trips and statements, each round
// trip costing the server some 20 µs of CPU besides the statements: through
// pgx.Tx a claim was four round trips when empty and six otherwise (BEGIN,
// lease and orphans, due jobs, messages, states, COMMIT).

// beginClaimSQL is what pgx.Tx would send for TxOptions{IsoLevel:
// ReadCommitted}; claims.go says why READ COMMITTED.
const beginClaimSQL = `begin isolation level read committed`

// ownerDeadSQL tells whether owners.o, an owner of executions, is dead to
// the claimer whose row me is (claims.go): no replica of that name has a
// running lease, or a lease, not retired, that ended less than its length
// after the claimer's alive_since. claimSQL and claimManualsSQL share it,
// so that a replica's jobs and manual executions are orphaned together.
const ownerDeadSQL = `NOT EXISTS (SELECT 1 FROM replicas AS r WHERE r.name = owners.o AND (r.lease_until >= now()
			OR (r.lease_until <> '-infinity' AND now() - (SELECT alive_since FROM me) < r.lease_until - r.heartbeat_at)))`

// claimSQL locks up to $3 jobs that owner $1 may claim at $2 (NULL: no
// due job), nothing unless $1's lease is running: orphans first, then due
// jobs, each by due time and name, in one statement (UNION ALL runs its
// branches in order, and the outer LIMIT stops the due branch as soon as
// enough rows are locked).
//
// Orphans: the owners are found by walking the distinct values of the
// jobs_owned index (one probe per owner: there are few), and each dead
// one's jobs are read from the same index; when no owner is dead, which is
// nearly always, no job is read at all (a join of all owned jobs against
// the dead owners would read every job in flight on every claim). A dead
// owner's jobs beyond $3 may be locked too, and are let go at commit.
// Due jobs: the head of jobs_claimable.
//
// Each locked row comes with its message and with its version as the
// statement's snapshot shows it. The message is read from that snapshot,
// which may be older than the row locked (READ COMMITTED locks a row's
// latest version, re-checked against the conditions, whatever the
// snapshot). Every write of a message writes its jobs row in the same
// statement, and versions only grow, so when the snapshot's version is the
// locked one no write of the message came after the snapshot; otherwise
// (rare: a write of a due job between the statement's start and its lock)
// the claim reads the message again (claimRecordsSQL), after the locks.
const claimSQL = `WITH RECURSIVE owners(o) AS (
		(SELECT exec_owner FROM jobs WHERE exec_owner <> '' ORDER BY exec_owner LIMIT 1)
		UNION ALL
		SELECT (SELECT j.exec_owner FROM jobs AS j WHERE j.exec_owner <> '' AND j.exec_owner > owners.o
			ORDER BY j.exec_owner LIMIT 1)
		FROM owners WHERE owners.o IS NOT NULL),
	me AS (SELECT alive_since FROM replicas WHERE name = $1 AND lease_until >= now()),
	dead AS (SELECT o FROM owners WHERE o IS NOT NULL AND o <> $1 AND EXISTS (SELECT 1 FROM me)
		AND ` + ownerDeadSQL + `)
	SELECT c.*, (SELECT r.record FROM job_records AS r WHERE r.name = c.name),
		(SELECT v.version FROM jobs AS v WHERE v.name = c.name)
	FROM (
		(SELECT o.* FROM dead CROSS JOIN LATERAL (` + jobNarrow + `
			WHERE j.exec_owner = dead.o AND j.exec_owner <> ''
			ORDER BY j.due_time, j.name LIMIT $3
			FOR UPDATE OF j SKIP LOCKED) AS o
		ORDER BY o.due_time, o.name LIMIT $3)
		UNION ALL
		(SELECT d.* FROM (` + jobNarrow + `
			WHERE EXISTS (SELECT 1 FROM me) AND j.exec_owner = '' AND j.due_time IS NOT NULL AND j.due_time <= $2
			ORDER BY j.due_time, j.name LIMIT $3
			FOR UPDATE OF j SKIP LOCKED) AS d)
	) AS c LIMIT $3`

// onClaimConn runs a claim's transaction, fn, on a connection of the pool,
// and rolls back whatever ended it before its COMMIT (nothing to write
// included, or a failed statement, which leaves the transaction aborted).
// Not with ctx, which may be what ended it: the connection must go back to
// the pool clean, and the pool closes one left in a transaction.
func (s *Store) onClaimConn(ctx context.Context, fn func(conn *pgx.Conn) error) (err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer pc.Release()
	conn := pc.Conn()
	defer func() {
		if conn.PgConn().TxStatus() == 'I' {
			return
		}
		if _, rbErr := conn.Exec(context.WithoutCancel(ctx), "rollback"); rbErr != nil {
			err = errors.Join(err, fmt.Errorf("postgres: rollback: %w", rbErr))
		}
	}()
	return fn(conn)
}

// claim is ClaimJobs' transaction, once.
func (s *Store) claim(ctx context.Context, owner string, at pgtype.Int8, limit int, plan func(store.JobRecord) (store.JobState, bool)) (out []store.JobRecord, err error) {
	err = s.onClaimConn(ctx, func(conn *pgx.Conn) error {
		out, err = s.claimOn(ctx, conn, owner, at, limit, plan)
		return err
	})
	return out, err
}

func (s *Store) claimOn(ctx context.Context, conn *pgx.Conn, owner string, at pgtype.Int8, limit int, plan func(store.JobRecord) (store.JobState, bool)) ([]store.JobRecord, error) {
	var (
		live  bool
		found []scannedJob
		stale []string
	)
	b := &pgx.Batch{}
	b.Queue(beginClaimSQL)
	b.Queue(liveSQL, owner).QueryRow(func(row pgx.Row) error { return row.Scan(&live) })
	b.Queue(claimSQL, owner, at, limit).Query(func(rows pgx.Rows) error {
		var err error
		found, stale, err = scanClaimed(rows)
		return err
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	if !live {
		return nil, errNotLive
	}
	if len(found) == 0 {
		return nil, nil
	}
	if len(stale) > 0 {
		if err := rereadRecords(ctx, conn, found, stale); err != nil {
			return nil, err
		}
	}
	recs, err := decodeJobs(found)
	if err != nil {
		return nil, err
	}
	out, states, err := planClaims(recs, plan)
	if err != nil || len(states) == 0 {
		return nil, err
	}
	if err := writeClaims(ctx, conn, states); err != nil {
		return nil, err
	}
	return out, nil
}

// scanClaimed reads claimSQL's rows, and returns the names of those whose
// message must be read again: the snapshot's version is not the one
// locked, or the snapshot has no message.
func scanClaimed(rows pgx.Rows) (found []scannedJob, stale []string, err error) {
	defer rows.Close()
	var snap pgtype.Int8
	for rows.Next() {
		found = append(found, scannedJob{})
		j := &found[len(found)-1]
		if err := rows.Scan(append(j.dests(), &snap)...); err != nil {
			return nil, nil, err
		}
		if !snap.Valid || snap.Int64 != j.version || j.record == nil {
			stale = append(stale, j.name)
		}
	}
	return found, stale, rows.Err()
}

// claimRecordsSQL reads the messages of locked jobs: a statement of its
// own, after the locks, whose snapshot sees every write committed before
// them (the API writes a job's row and message in one statement, which
// holds the row's lock).
const claimRecordsSQL = `SELECT name, record FROM job_records WHERE name = ANY($1::text[])`

// rereadRecords reads the messages of the locked jobs named in names again.
func rereadRecords(ctx context.Context, conn *pgx.Conn, found []scannedJob, names []string) error {
	rows, err := conn.Query(ctx, claimRecordsSQL, names)
	if err != nil {
		return err
	}
	records := make(map[string][]byte, len(names))
	var (
		name string
		rec  []byte
	)
	if _, err := pgx.ForEachRow(rows, []any{&name, &rec}, func() error {
		records[name] = rec
		return nil
	}); err != nil {
		return err
	}
	for _, name := range names {
		if _, ok := records[name]; !ok {
			return fmt.Errorf("job %q: its message is missing", name)
		}
	}
	for i := range found {
		if r, ok := records[found[i].name]; ok {
			found[i].record = r
		}
	}
	return nil
}

// writeClaims writes the claims' states and commits, in one round trip.
// The rows are locked, so every state is written; were one refused all the
// same, the claim has committed by then and ClaimJobs reports an error,
// which the engine takes as a claim that may have committed (as when a
// commit's reply is lost).
func writeClaims(ctx context.Context, conn *pgx.Conn, states []stateRow) error {
	var a stateArrays
	for i := range states {
		a.add(i, &states[i])
	}
	var (
		written int
		tag     pgconn.CommandTag
	)
	b := &pgx.Batch{}
	b.Queue(updateStatesSQL, a.args()...).Query(func(rows pgx.Rows) error {
		idx, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		written = len(idx)
		return err
	})
	b.Queue("commit").Exec(func(ct pgconn.CommandTag) error {
		tag = ct
		return nil
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if tag.String() != "COMMIT" {
		return fmt.Errorf("commit: %w", pgx.ErrTxCommitRollback)
	}
	if written != len(states) {
		return fmt.Errorf("claimed jobs changed under their lock (%d of %d states written)", written, len(states))
	}
	return nil
}
