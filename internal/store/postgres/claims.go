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
// Isolation. ClaimJobs (and ClaimManuals, manuals.go) runs READ
// COMMITTED, not SERIALIZABLE like the rest of the Store: it writes only
// rows it has locked FOR UPDATE, which
// PostgreSQL re-reads at their latest version before locking (a row
// changed meanwhile is checked against the query's conditions again), so
// it cannot act on a stale row; and two claimers whose index scans cross
// the same rows, which is every pair of claimers, would otherwise abort
// each other as serialization failures.

// heartbeatSQL renews owner's lease and removes replicas whose lease
// ended more than gcAfter ago and that own nothing, neither a job's
// execution nor a manual one (retired or dead replicas that were taken
// over), so that the table does not grow with every replica name ever
// used. It returns the database's clock.
const heartbeatSQL = `WITH gc AS (
		DELETE FROM replicas AS r WHERE r.name <> $1 AND r.lease_until < now() - $3 * interval '1 microsecond'
			AND NOT EXISTS (SELECT 1 FROM jobs AS j WHERE j.exec_owner = r.name AND j.exec_owner <> '')
			AND NOT EXISTS (SELECT 1 FROM manual_executions AS m WHERE m.owner = r.name AND m.owner <> '')),
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
	// READ COMMITTED, not the pool's SERIALIZABLE: the statement is one
	// atomic upsert and a delete whose rows are re-checked under their
	// locks, and at SERIALIZABLE the replicas' concurrent beats (each
	// reading the rows the others write) failed with serialization
	// errors, a lapse that could let the others take a live replica's
	// executions.
	err := retry(ctx, func() error {
		return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, heartbeatSQL, owner, lease.Microseconds(), gcAfter.Microseconds()).Scan(&now)
		})
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

// jobNarrow is jobSelect without the message: claimSQL locks jobs rows
// alone, and reads the messages of the rows it locked.
const jobNarrow = `SELECT j.name, j.incarnation, j.version, j.next_fire, j.due_time,
	j.exec_manual, j.exec_schedule_time, j.exec_attempts, j.exec_first_attempt, j.exec_next_attempt, j.exec_owner, j.exec_lease_until,
	j.exec_claim, j.status, j.last_attempt_time, j.schedule_time, j.last_slot
	FROM jobs AS j`

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
		var err error
		claimed, err = s.claim(ctx, owner, at, limit, plan)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim for %q: %w", owner, err)
	}
	return claimed, nil
}

// errNotLive is returned by ClaimJobs for an owner without a running lease.
var errNotLive = errors.New("no live heartbeat (call Heartbeat first, well within the lease)")

// planClaims asks plan about each locked job, and returns the records as
// the states it returned make them and those states, for the jobs plan
// claims.
func planClaims(recs []store.JobRecord, plan func(store.JobRecord) (store.JobState, bool)) ([]store.JobRecord, []stateRow, error) {
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
			return nil, nil, fmt.Errorf("job state of %q: %w", rec.Job.GetName(), err)
		}
		// The row is locked: its version is the one read.
		r.name, r.version = rec.Job.GetName(), rec.Version
		written, err := applyState(rec, &r)
		if err != nil {
			return nil, nil, err
		}
		states = append(states, r)
		out = append(out, written)
	}
	return out, states, nil
}

// applyState is rec as a read shows it once r is written: the columns'
// values, decoded as a read decodes them, and the version one larger.
func applyState(rec store.JobRecord, r *stateRow) (store.JobRecord, error) {
	rec.Version++
	rec.NextFire, rec.DueTime, rec.Exec = timeFromDB(r.st.nextFire), timeFromDB(r.st.due), r.st.exec.exec()
	if ls := timeFromDB(r.st.lastSlot); ls.After(rec.LastSlot) {
		rec.LastSlot = ls // the later of the two, as the write keeps
	}
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

// nextDueSQL reads the heads of the two queues, jobs_claimable and
// manual_executions_claimable, in one statement (LEAST ignores a NULL:
// an empty queue), so that NextDue stays one round trip.
const nextDueSQL = `SELECT LEAST(
	(SELECT due_time FROM jobs WHERE exec_owner = '' AND due_time IS NOT NULL ORDER BY due_time LIMIT 1),
	(SELECT next_attempt FROM manual_executions WHERE owner = '' AND next_attempt IS NOT NULL ORDER BY next_attempt LIMIT 1))`

// NextDue is the earlier head of the two queues.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var due pgtype.Int8
	err := retry(ctx, func() error { return s.pool.QueryRow(ctx, nextDueSQL).Scan(&due) })
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
