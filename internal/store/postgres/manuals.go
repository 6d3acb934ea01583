package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/oidcron/oidcron/internal/store"
)

// RunJob's executions (store.Manual), one row each in manual_executions
// (migrations/0005_manual_executions.sql). Their Execution is stored as
// the columns of a job's own (execCols) less exec_manual, which would
// always be true: the reads select the constant true in its place, so that
// execCols decodes them as it decodes a job's.

// manualSelect is what every read of manual executions selects, in
// scanManual's order (execCols' from its manual on).
const manualSelect = `SELECT m.id, m.job, m.incarnation, true, m.schedule_time, m.attempts, m.first_attempt, m.next_attempt,
	m.owner, m.lease_until, m.claim`

// scanManual reads one row of manualSelect's columns, followed by extra.
func scanManual(row pgx.Row, extra ...any) (store.Manual, error) {
	var (
		m  store.Manual
		ex execCols
	)
	dest := append([]any{&m.ID, &m.Job, &m.Incarnation}, ex.dests()...)
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return store.Manual{}, err
	}
	m.Exec = *ex.exec()
	return m, nil
}

// addManualSQL inserts an execution only while its job exists with the
// incarnation named, in one statement: the job's existence and the insert
// cannot be split by a DeleteJob (SERIALIZABLE refuses one of the two, as
// each reads what the other writes), so no execution outlives its job.
const addManualSQL = `INSERT INTO manual_executions (job, incarnation, schedule_time, attempts, first_attempt, next_attempt,
		lease_until, owner, claim)
	SELECT $1::text, $2::bigint, $3::bigint, $4::integer, $5::bigint, $6::bigint, $7::bigint, $8::text, $9::bigint
	WHERE EXISTS (SELECT 1 FROM jobs WHERE name = $1 AND incarnation = $2)
	RETURNING id`

func (q queries) AddManual(ctx context.Context, m store.Manual) (int64, error) {
	if !storableKey(m.Job) {
		return 0, notFound("job", m.Job) // no job has such a name
	}
	c, err := execColumns(&m.Exec)
	if err != nil {
		return 0, fmt.Errorf("postgres: add manual execution of %q: %w", m.Job, err)
	}
	var id int64
	err = q.run(ctx, func() error {
		return q.db.QueryRow(ctx, addManualSQL, m.Job, m.Incarnation, c.schedule, c.attempts, c.first, c.next,
			c.lease, c.owner, c.claim).Scan(&id)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, notFound("job", fmt.Sprintf("%s (incarnation %d)", m.Job, m.Incarnation))
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: add manual execution of %q: %w", m.Job, err)
	}
	return id, nil
}

// The writes of UpdateManuals: each made only while the stored claim is
// the writer's.
const (
	updateManualSQL = `UPDATE manual_executions SET schedule_time = $3, attempts = $4, first_attempt = $5, next_attempt = $6,
		lease_until = $7, owner = $8, claim = $9
	WHERE id = $1 AND claim = $2`
	deleteManualSQL = `DELETE FROM manual_executions WHERE id = $1 AND claim = $2`
)

// UpdateManuals sends the writes as one batch of one-row statements, one
// round trip, which PostgreSQL runs in order and, on the pool, as one
// implicit transaction. Unlike UpdateJobStates' arrays, whose rounds
// exist for the throughput of the engine's every dispatch, this keeps each
// write plain: manual executions are rare (RunJob is a person's request),
// and a later write of the same execution expects the claim an earlier
// one wrote, which statements in order give for free.
func (q queries) UpdateManuals(ctx context.Context, ws []store.ManualWrite) ([]int, error) {
	if len(ws) == 0 {
		return nil, nil
	}
	// Encoded first, so that a write that cannot be stored fails the call
	// before anything is sent.
	type statement struct {
		sql  string
		args []any
	}
	stmts := make([]statement, len(ws))
	for i, w := range ws {
		if w.Exec == nil {
			stmts[i] = statement{deleteManualSQL, []any{w.ID, w.Claim}}
			continue
		}
		c, err := execColumns(w.Exec)
		if err != nil {
			return nil, fmt.Errorf("postgres: manual execution write %d (id %d): %w", i, w.ID, err)
		}
		stmts[i] = statement{updateManualSQL, []any{w.ID, w.Claim, c.schedule, c.attempts, c.first, c.next, c.lease, c.owner, c.claim}}
	}
	var refused []int
	err := q.run(ctx, func() error {
		// A batch of its own for each run: pgx keeps what it learned of
		// the statements in the queued ones.
		b := &pgx.Batch{}
		for _, st := range stmts {
			b.Queue(st.sql, st.args...)
		}
		refused = nil
		br := q.db.SendBatch(ctx, b)
		for i := range stmts {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			if tag.RowsAffected() == 0 {
				refused = append(refused, i)
			}
		}
		return br.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: update manual executions: %w", err)
	}
	return refused, nil
}

const listManualsSQL = manualSelect + ` FROM manual_executions AS m ORDER BY m.id`

func (q queries) ListManuals(ctx context.Context) ([]store.Manual, error) {
	var out []store.Manual
	err := q.run(ctx, func() error {
		out = nil
		rows, err := q.db.Query(ctx, listManualsSQL)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanManual(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list manual executions: %w", err)
	}
	return out, nil
}

// ---- The Claimer's part ----

// claimManualsSQL claims, for owner $1 at $2, up to $3 manual executions
// in one statement, nothing unless $1's lease is running: it locks the
// orphans (every execution of each dead owner, by the same rule as
// claimSQL's) and then the due ones (the head of
// manual_executions_claimable), skipping the rows other transactions hold,
// and writes each with owner $1, no next attempt and a claim one larger.
// It returns them as written, with orphan, orphans first, then by their
// next attempt as it was and ID.
//
// Unlike claimSQL it walks no index for the distinct owners: it reads
// every owned execution (manual_executions_owned), which is fine while
// they are few, as RunJob's are. picked is materialized, so that its
// LIMIT and locks happen once, before the UPDATE. The UPDATE takes its
// IDs as an array, a probe of the primary key each: joined to picked,
// whose size a generic plan cannot know, it was planned as a read of the
// whole index.
const claimManualsSQL = `WITH owners(o) AS (SELECT DISTINCT owner FROM manual_executions WHERE owner <> ''),
	me AS (SELECT alive_since FROM replicas WHERE name = $1 AND lease_until >= now()),
	dead AS (SELECT o FROM owners WHERE o <> $1 AND EXISTS (SELECT 1 FROM me)
		AND ` + ownerDeadSQL + `),
	picked AS MATERIALIZED (SELECT * FROM (
		(SELECT o.id, o.next_attempt, true AS orphan FROM dead CROSS JOIN LATERAL (
			SELECT m.id, m.next_attempt FROM manual_executions AS m
			WHERE m.owner = dead.o AND m.owner <> ''
			ORDER BY m.next_attempt, m.id LIMIT $3
			FOR UPDATE OF m SKIP LOCKED) AS o
		ORDER BY o.next_attempt, o.id LIMIT $3)
		UNION ALL
		(SELECT d.id, d.next_attempt, false FROM (
			SELECT m.id, m.next_attempt FROM manual_executions AS m
			WHERE EXISTS (SELECT 1 FROM me) AND m.owner = '' AND m.next_attempt IS NOT NULL AND m.next_attempt <= $2
			ORDER BY m.next_attempt, m.id LIMIT $3
			FOR UPDATE OF m SKIP LOCKED) AS d)
	) AS c LIMIT $3),
	upd AS (UPDATE manual_executions AS m SET owner = $1, next_attempt = NULL, claim = m.claim + 1
		WHERE m.id = ANY (ARRAY(SELECT id FROM picked))
		RETURNING m.id, m.job, m.incarnation, m.schedule_time, m.attempts, m.first_attempt, m.next_attempt,
			m.owner, m.lease_until, m.claim)
	SELECT m.id, m.job, m.incarnation, true, m.schedule_time, m.attempts, m.first_attempt, m.next_attempt,
		m.owner, m.lease_until, m.claim, p.orphan
	FROM upd AS m JOIN picked AS p ON p.id = m.id ORDER BY p.orphan DESC, p.next_attempt, m.id`

func (s *Store) ClaimManuals(ctx context.Context, owner string, now time.Time, limit int) ([]store.ClaimedManual, error) {
	if owner == "" {
		return nil, errors.New("postgres: claim of manual executions without an owner")
	}
	if limit <= 0 {
		return nil, fmt.Errorf("postgres: claim of manual executions for %q: limit %d is not positive", owner, limit)
	}
	at, err := timeToDB(now)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim of manual executions for %q: %w", owner, err)
	}
	var claimed []store.ClaimedManual
	err = retry(ctx, func() error {
		var err error
		claimed, err = s.claimManuals(ctx, owner, at, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim of manual executions for %q: %w", owner, err)
	}
	return claimed, nil
}

// claimManuals is ClaimManuals' transaction, once: READ COMMITTED, for
// the reasons ClaimJobs is (claims.go), and one round trip, since nothing
// runs in Go between the lock and the write: BEGIN, the lease check, the
// claim and COMMIT in one batch.
func (s *Store) claimManuals(ctx context.Context, owner string, at pgtype.Int8, limit int) (out []store.ClaimedManual, err error) {
	err = s.onClaimConn(ctx, func(conn *pgx.Conn) error {
		out, err = claimManualsOn(ctx, conn, owner, at, limit)
		return err
	})
	return out, err
}

func claimManualsOn(ctx context.Context, conn *pgx.Conn, owner string, at pgtype.Int8, limit int) (out []store.ClaimedManual, err error) {
	var (
		live bool
		tag  pgconn.CommandTag
	)
	b := &pgx.Batch{}
	b.Queue(beginClaimSQL)
	b.Queue(liveSQL, owner).QueryRow(func(row pgx.Row) error { return row.Scan(&live) })
	b.Queue(claimManualsSQL, owner, at, limit).Query(func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var c store.ClaimedManual
			m, err := scanManual(rows, &c.Orphan)
			if err != nil {
				return err
			}
			c.Manual = m
			out = append(out, c)
		}
		return rows.Err()
	})
	b.Queue("commit").Exec(func(ct pgconn.CommandTag) error {
		tag = ct
		return nil
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	if tag.String() != "COMMIT" {
		return nil, fmt.Errorf("commit: %w", pgx.ErrTxCommitRollback)
	}
	if !live && len(out) == 0 {
		return nil, errNotLive
	}
	// The lease check and the claim read the lease at two instants: a
	// claim that committed is returned even if the check, earlier, found
	// no lease (one began in between), or the executions would be owned
	// by a replica that does not know it.
	return out, nil
}
