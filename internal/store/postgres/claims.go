package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/oidcron/oidcron/internal/store"
)

// The Claimer: the jobs table is the queue of every replica's engine.
//
// Liveness. replicas holds each replica's lease, set by Heartbeat from the
// database's clock (now()), and compared only with it. An owner whose
// lease has ended, or that has no row at all, is dead: its jobs are
// orphans, which a claimer takes once it has itself beaten without a
// break for as long as the dead owner's lease (alive_since), or at once
// when the owner retired or never beat. That wait is for a stall of the database, which every
// replica's heartbeats go through: without it, the first replica back
// would judge the others dead before their next beat and send their
// attempts in flight again. Counting an unregistered owner as dead keeps a job from being
// stuck whatever wrote its owner (an UpdateJob or UpdateJobStates naming a
// replica that never beat, a replica garbage-collected while a write of
// its own was in flight), so the garbage collection in Heartbeat needs no
// lock against writers.
//
// Isolation. ClaimJobs runs READ COMMITTED, not SERIALIZABLE like the rest
// of the Store: it writes only rows it has locked FOR UPDATE, which
// PostgreSQL re-reads at their latest version before locking (a row
// changed meanwhile is checked against the query's conditions again), so
// it cannot act on a stale row; and two claimers whose index scans cross
// the same rows, which is every pair of claimers, would otherwise abort
// each other as serialization failures.

// heartbeatSQL renews owner's lease and removes replicas whose lease
// ended more than gcAfter ago and that own nothing (retired or dead
// replicas that were taken over), so that the table does not grow with
// every replica name ever used. It returns the database's clock.
const heartbeatSQL = `WITH gc AS (
		DELETE FROM replicas AS r WHERE r.name <> $1 AND r.lease_until < now() - $3 * interval '1 microsecond'
			AND NOT EXISTS (SELECT 1 FROM jobs AS j WHERE j.exec_owner = r.name AND j.exec_owner <> '')),
	hb AS (INSERT INTO replicas (name, lease_until, heartbeat_at, alive_since) VALUES ($1, now() + $2 * interval '1 microsecond', now(), now())
		ON CONFLICT (name) DO UPDATE SET lease_until = excluded.lease_until, heartbeat_at = excluded.heartbeat_at,
			alive_since = CASE WHEN replicas.lease_until < now() THEN now() ELSE replicas.alive_since END)
	SELECT now()`

// gcAfter is how long a replica's lease must have been over before
// Heartbeat forgets it.
const gcAfter = time.Hour

func (s *Store) Heartbeat(ctx context.Context, owner string, lease time.Duration) (time.Time, error) {
	if owner == "" {
		return time.Time{}, errors.New("postgres: heartbeat without an owner")
	}
	if lease <= 0 {
		return time.Time{}, fmt.Errorf("postgres: heartbeat of %q: lease %v is not positive", owner, lease)
	}
	var now time.Time
	err := retry(ctx, func() error {
		return s.pool.QueryRow(ctx, heartbeatSQL, owner, lease.Microseconds(), gcAfter.Microseconds()).Scan(&now)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("postgres: heartbeat of %q: %w", owner, err)
	}
	return now.UTC(), nil
}

// Retire ends owner's lease and leaves its row: its jobs become orphans at
// once, and it stays registered until Heartbeat's garbage collection finds
// it owning nothing.
func (s *Store) Retire(ctx context.Context, owner string) error {
	err := retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, `UPDATE replicas SET lease_until = '-infinity' WHERE name = $1`, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: retire %q: %w", owner, err)
	}
	return nil
}

// liveSQL tells whether owner's lease is running.
const liveSQL = `SELECT EXISTS (SELECT 1 FROM replicas WHERE name = $1 AND lease_until >= now())`

// jobNarrow is jobSelect without the message: the claim queries lock
// jobs rows alone, and read the messages once the locks are held.
const jobNarrow = `SELECT j.name, j.incarnation, j.version, j.next_fire, j.due_time,
	j.exec_manual, j.exec_schedule_time, j.exec_attempts, j.exec_first_attempt, j.exec_next_attempt, j.exec_owner, j.exec_lease_until,
	j.status, j.last_attempt_time, j.schedule_time
	FROM jobs AS j`

// claimOrphansSQL locks up to $2 jobs of dead owners other than $1, by
// due time and name. The owners are found by walking the distinct values
// of the jobs_owned index (one probe per owner: there are few), and each
// dead one's jobs are read from the same index; when no owner is dead,
// which is nearly always, no job is read at all (a join of all owned jobs
// against the dead owners would read every job in flight on every claim).
// A dead owner's jobs beyond $2 may be locked too, and are let go at
// commit.
const claimOrphansSQL = `WITH RECURSIVE owners(o) AS (
		(SELECT exec_owner FROM jobs WHERE exec_owner <> '' ORDER BY exec_owner LIMIT 1)
		UNION ALL
		SELECT (SELECT j.exec_owner FROM jobs AS j WHERE j.exec_owner <> '' AND j.exec_owner > owners.o
			ORDER BY j.exec_owner LIMIT 1)
		FROM owners WHERE owners.o IS NOT NULL),
	me AS (SELECT alive_since FROM replicas WHERE name = $1),
	dead AS (SELECT o FROM owners WHERE o IS NOT NULL AND o <> $1
		AND NOT EXISTS (SELECT 1 FROM replicas AS r WHERE r.name = owners.o AND (r.lease_until >= now()
			OR (r.lease_until <> '-infinity' AND now() - (SELECT alive_since FROM me) < r.lease_until - r.heartbeat_at))))
	SELECT c.* FROM dead CROSS JOIN LATERAL (` + jobNarrow + `
		WHERE j.exec_owner = dead.o AND j.exec_owner <> ''
		ORDER BY j.due_time, j.name LIMIT $2
		FOR UPDATE OF j SKIP LOCKED) AS c
	ORDER BY c.due_time, c.name LIMIT $2`

// claimDueSQL locks up to $2 jobs due at $1 that nobody owns, from the
// head of jobs_claimable.
const claimDueSQL = jobNarrow + `
	WHERE j.exec_owner = '' AND j.due_time IS NOT NULL AND j.due_time <= $1
	ORDER BY j.due_time, j.name LIMIT $2
	FOR UPDATE OF j SKIP LOCKED`

// claimRecordsSQL reads the messages of locked jobs. A statement of its
// own, after the locks: READ COMMITTED gives it a snapshot taken now, so
// it sees every write committed before the locks were taken (the API
// writes a job's row and message in one statement, which holds the row's
// lock), where the locking statement's snapshot may be older than the
// rows it locked.
const claimRecordsSQL = `SELECT name, record FROM job_records WHERE name = ANY($1::text[])`

func (s *Store) ClaimJobs(ctx context.Context, owner string, now time.Time, limit int, plan func(store.JobRecord) (store.JobState, bool)) ([]store.JobRecord, error) {
	if owner == "" {
		return nil, errors.New("postgres: claim without an owner")
	}
	if limit <= 0 {
		return nil, fmt.Errorf("postgres: claim for %q: limit %d is not positive", owner, limit)
	}
	at, err := timeToDB(now)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim for %q: %w", owner, err)
	}
	var claimed []store.JobRecord
	err = retry(ctx, func() error {
		claimed = nil
		return s.tryTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
			var err error
			claimed, err = claim(ctx, tx, owner, at, limit, plan)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim for %q: %w", owner, err)
	}
	return claimed, nil
}

// errNotLive is returned by ClaimJobs for an owner without a running lease.
var errNotLive = errors.New("no live heartbeat (call Heartbeat first, well within the lease)")

// scanNarrow reads the rows of a claim query (jobNarrow's columns).
func scanNarrow(rows pgx.Rows) ([]scannedJob, error) {
	defer rows.Close()
	var out []scannedJob
	for rows.Next() {
		out = append(out, scannedJob{})
		d := out[len(out)-1].dests()
		if err := rows.Scan(d[:len(d)-1]...); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// lockClaimable checks owner's lease and locks the jobs it may claim:
// orphans first, then due jobs.
func lockClaimable(ctx context.Context, tx pgx.Tx, owner string, at pgtype.Int8, limit int) ([]scannedJob, error) {
	// One round trip for the lease and the orphans; the lease is checked
	// before anything locked is used.
	var live bool
	b := &pgx.Batch{}
	b.Queue(liveSQL, owner).QueryRow(func(row pgx.Row) error { return row.Scan(&live) })
	var found []scannedJob
	b.Queue(claimOrphansSQL, owner, limit).Query(func(rows pgx.Rows) error {
		var err error
		found, err = scanNarrow(rows)
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	if !live {
		return nil, errNotLive
	}
	if len(found) < limit && at.Valid {
		rows, err := tx.Query(ctx, claimDueSQL, at, limit-len(found))
		if err != nil {
			return nil, err
		}
		due, err := scanNarrow(rows)
		if err != nil {
			return nil, err
		}
		found = append(found, due...)
	}
	return found, nil
}

// claim is ClaimJobs' transaction.
func claim(ctx context.Context, tx pgx.Tx, owner string, at pgtype.Int8, limit int, plan func(store.JobRecord) (store.JobState, bool)) ([]store.JobRecord, error) {
	found, err := lockClaimable(ctx, tx, owner, at, limit)
	if err != nil || len(found) == 0 {
		return nil, err
	}
	names := make([]string, len(found))
	for i := range found {
		names[i] = found[i].name
	}
	rows, err := tx.Query(ctx, claimRecordsSQL, names)
	if err != nil {
		return nil, err
	}
	records := make(map[string][]byte, len(found))
	var (
		name string
		rec  []byte
	)
	if _, err := pgx.ForEachRow(rows, []any{&name, &rec}, func() error {
		records[name] = rec
		return nil
	}); err != nil {
		return nil, err
	}
	for i := range found {
		r, ok := records[found[i].name]
		if !ok {
			return nil, fmt.Errorf("job %q: its message is missing", found[i].name)
		}
		found[i].record = r
	}
	recs, err := decodeJobs(found)
	if err != nil {
		return nil, err
	}

	var (
		out    []store.JobRecord
		states []stateRow
	)
	for _, rec := range recs {
		// plan gets its own copy: it may keep or change what it is given.
		st, ok := plan(cloneRecord(rec))
		if !ok {
			continue
		}
		r, err := stateRowOf(st)
		if err != nil {
			return nil, fmt.Errorf("job state of %q: %w", rec.Job.GetName(), err)
		}
		// The row is locked: its version is the one read.
		r.name, r.version = rec.Job.GetName(), rec.Version
		written, err := applyState(rec, &r)
		if err != nil {
			return nil, err
		}
		states = append(states, r)
		out = append(out, written)
	}
	if len(states) == 0 {
		return nil, nil
	}
	var a stateArrays
	for i := range states {
		a.add(i, &states[i])
	}
	refused, err := writeStates(ctx, tx, []stateArrays{a}, len(states))
	if err != nil {
		return nil, err
	}
	if len(refused) > 0 {
		// Cannot happen while the rows are locked; refused rather than
		// reporting claims that were not written.
		return nil, fmt.Errorf("claimed jobs changed under their lock (states %v)", refused)
	}
	return out, nil
}

// applyState is rec as a read shows it once r is written: the columns'
// values, decoded as a read decodes them, and the version one larger.
func applyState(rec store.JobRecord, r *stateRow) (store.JobRecord, error) {
	rec.Version++
	rec.NextFire, rec.DueTime, rec.Exec = timeFromDB(r.st.nextFire), timeFromDB(r.st.due), r.st.exec.exec()
	rec.Job.ScheduleTime = timestampFromDB(r.st.scheduleTime)
	if r.res != nil {
		rec.Job.Status = nil
		if r.res.status != nil {
			st, err := decode("job status", r.res.status, &statuspb.Status{})
			if err != nil {
				return rec, err
			}
			rec.Job.Status = st
		}
		rec.Job.LastAttemptTime = timestampFromDB(r.res.lastAttempt)
	}
	return rec, nil
}

// cloneRecord copies rec deeply.
func cloneRecord(rec store.JobRecord) store.JobRecord {
	rec.Job = proto.Clone(rec.Job).(*schedulerpb.Job)
	if rec.Exec != nil {
		e := *rec.Exec
		rec.Exec = &e
	}
	return rec
}

// nextDueSQL reads the head of jobs_claimable.
const nextDueSQL = `SELECT due_time FROM jobs WHERE exec_owner = '' AND due_time IS NOT NULL ORDER BY due_time LIMIT 1`

// NextDue is the head of jobs_claimable.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var due pgtype.Int8
	err := retry(ctx, func() error {
		err := s.pool.QueryRow(ctx, nextDueSQL).Scan(&due)
		if errors.Is(err, pgx.ErrNoRows) {
			due = pgtype.Int8{}
			return nil
		}
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("postgres: next due: %w", err)
	}
	return timeFromDB(due), nil
}

// OwnedJobs reads owner's jobs from the jobs_owned index.
func (s *Store) OwnedJobs(ctx context.Context, owner string) ([]string, error) {
	var names []string
	err := retry(ctx, func() error {
		names = names[:0]
		rows, err := s.pool.Query(ctx, `SELECT name FROM jobs WHERE exec_owner = $1 AND exec_owner <> '' ORDER BY name`, owner)
		if err != nil {
			return err
		}
		var name string
		_, err = pgx.ForEachRow(rows, []any{&name}, func() error {
			names = append(names, name)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: jobs of %q: %w", owner, err)
	}
	return names, nil
}
