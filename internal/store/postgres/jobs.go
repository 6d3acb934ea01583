package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/rowcodec"
)

// createJobSQL inserts both rows of a job in one statement, its version
// one past the tombstone of the name, if any. Run SERIALIZABLE like every
// statement of the Store, it cannot read a tombstone that a concurrent
// DeleteJob is about to write and still commit: one of the two is refused
// and retried.
const createJobSQL = `WITH v AS (SELECT COALESCE((SELECT version FROM job_tombstones WHERE name = $1), 0) + 1 AS v),
	ins AS (INSERT INTO jobs (name, incarnation, version, state, schedule, time_zone, next_fire, due_time,
			` + execColumnList + `, schedule_time, status, last_attempt_time, last_slot)
		SELECT $1, v.v, v.v, $2::integer, $3::text, $4::text, $5::bigint, $6::bigint,
			$7::boolean, $8::bigint, $9::integer, $10::bigint, $11::bigint, $12::text, $13::bigint, $14::bigint,
			$15::bigint, $16::bytea, $17::bigint, $19::bigint
		FROM v ON CONFLICT DO NOTHING RETURNING name)
	INSERT INTO job_records (name, record) SELECT name, $18 FROM ins
	ON CONFLICT (name) DO UPDATE SET record = excluded.record`

func (q queries) CreateJob(ctx context.Context, j store.JobRecord) error {
	r, err := jobColumns(j)
	if err != nil {
		return err
	}
	args := append([]any{r.name, r.state, r.schedule, r.timeZone, r.st.nextFire, r.st.due}, r.st.exec.args()...)
	args = append(args, r.st.scheduleTime, r.res.status, r.res.lastAttempt, r.record, r.st.lastSlot)
	n, err := q.exec(ctx, "create job", createJobSQL, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return alreadyExists("job", r.name) // nothing written
	}
	return nil
}

// The reads of whole records, each one range or probe of an index.
const (
	getJobSQL   = jobSelect + ` WHERE j.name = $1`
	getJobsSQL  = jobSelect + ` WHERE j.name = ANY($1::text[]) ORDER BY j.name`
	listJobsSQL = jobSelect + ` WHERE j.name > $1 AND j.name < $2 ORDER BY j.name LIMIT $3`
	scanJobsSQL = jobSelect + ` WHERE j.name > $1 ORDER BY j.name LIMIT $2`
	// DueJobs reads both partial indexes: jobs_claimable in its order, and
	// the owned jobs (those in flight, few), sorted.
	dueJobsSQL = `SELECT * FROM (
		(` + jobSelect + ` WHERE j.exec_owner = '' AND j.due_time IS NOT NULL AND j.due_time <= $1 ORDER BY j.due_time, j.name LIMIT $2)
		UNION ALL
		(` + jobSelect + ` WHERE j.exec_owner <> '' AND j.due_time <= $1 ORDER BY j.due_time, j.name LIMIT $2)
	) AS due ORDER BY due_time, name LIMIT $2`
	// The load at start reads the narrow rows only.
	scanHeadsSQL = `SELECT name, incarnation, version, state, schedule, time_zone, next_fire, last_slot, ` + execColumnList + `
		FROM jobs WHERE name > $1 ORDER BY name LIMIT $2`
)

func (q queries) GetJob(ctx context.Context, name string) (store.JobRecord, error) {
	if !storableKey(name) {
		return store.JobRecord{}, notFound("job", name)
	}
	rs, err := q.listJobs(ctx, "get job", getJobSQL, name)
	if err != nil {
		return store.JobRecord{}, err
	}
	if len(rs) == 0 {
		return store.JobRecord{}, notFound("job", name)
	}
	return rs[0], nil
}

func (q queries) GetJobs(ctx context.Context, names []string) ([]store.JobRecord, error) {
	unstorable := func(n string) bool { return !storableKey(n) }
	if slices.ContainsFunc(names, unstorable) { // such a job does not exist
		names = slices.DeleteFunc(slices.Clone(names), unstorable)
	}
	if len(names) == 0 {
		return nil, nil
	}
	return q.listJobs(ctx, "get jobs", getJobsSQL, names)
}

// ListJobs reads one location's jobs as the range of names that start with
// projects/P/locations/L/jobs/ (jobKey keeps '/' out of P and L, so no
// other job's name has that prefix): the primary key serves it, and the
// table needs no index of its own for it.
func (q queries) ListJobs(ctx context.Context, projectID, location string, page store.Page) ([]store.JobRecord, error) {
	if projectID == "" || location == "" || strings.ContainsAny(projectID+location, "/\x00") {
		return nil, nil // no job's name has such parts
	}
	prefix := "projects/" + projectID + "/locations/" + location + "/jobs/"
	// Past the prefix's last byte, '/', comes '0': every name with the
	// prefix sorts before prefix-without-'/' + "0".
	end := strings.TrimSuffix(prefix, "/") + "0"
	return q.listJobs(ctx, "list jobs", listJobsSQL, max(prefix, after(page)), end, rowcodec.Limit(page.Size))
}

func (q queries) ScanJobs(ctx context.Context, page store.Page) ([]store.JobRecord, error) {
	return q.listJobs(ctx, "scan jobs", scanJobsSQL, after(page), rowcodec.Limit(page.Size))
}

func (q queries) ScanJobHeads(ctx context.Context, page store.Page) ([]store.JobHead, error) {
	var out []store.JobHead
	err := q.run(ctx, func() error {
		out = nil
		if page.Size > 0 {
			out = make([]store.JobHead, 0, min(page.Size, 1<<16))
		}
		rows, err := q.db.Query(ctx, scanHeadsSQL, after(page), rowcodec.Limit(page.Size))
		if err != nil {
			return err
		}
		defer rows.Close()
		var (
			// Most jobs share a few schedules and zones: one string each.
			interned           = map[string]string{}
			schedule, timeZone pgtype.DriverBytes
			nextFire, lastSlot pgtype.Int8
			state              int32
			ex                 execCols
		)
		intern := func(b []byte) string {
			if s, ok := interned[string(b)]; ok {
				return s
			}
			s := string(b)
			interned[s] = s
			return s
		}
		dest := append([]any{nil, nil, nil, &state, &schedule, &timeZone, &nextFire, &lastSlot}, ex.dests()...)
		for rows.Next() {
			var h store.JobHead
			dest[0], dest[1], dest[2] = &h.Name, &h.Incarnation, &h.Version
			ex = execCols{}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			h.State = schedulerpb.Job_State(state)
			h.Schedule, h.TimeZone = intern(schedule), intern(timeZone)
			h.NextFire, h.LastSlot = timeFromDB(nextFire), timeFromDB(lastSlot)
			h.Exec = ex.exec()
			out = append(out, h)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: scan jobs: %w", err)
	}
	return out, nil
}

// updateJobSQL replaces a job's two rows when its version is the expected
// one (any, for 0), and reports how many of each it wrote and the version
// stored before (NULL: no such job), which tells a missing job from a
// stale version. incarnation is left as it is, and last_slot never moves
// back (GREATEST ignores a NULL).
const updateJobSQL = `WITH upd AS (UPDATE jobs SET version = version + 1, state = $2, schedule = $3, time_zone = $4,
			next_fire = $5, due_time = $6, exec_manual = $7, exec_schedule_time = $8, exec_attempts = $9,
			exec_first_attempt = $10, exec_next_attempt = $11, exec_owner = $12, exec_lease_until = $13, exec_claim = $14,
			schedule_time = $15, status = $16, last_attempt_time = $17, last_slot = GREATEST(last_slot, $20::bigint)
		WHERE name = $1 AND ($18::bigint = 0 OR version = $18) RETURNING 1),
	rec AS (UPDATE job_records SET record = $19 WHERE name = $1 AND EXISTS (SELECT 1 FROM upd) RETURNING 1)
	SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM rec), (SELECT version FROM jobs WHERE name = $1)`

func (q queries) UpdateJob(ctx context.Context, j store.JobRecord, expectVersion int64) error {
	r, err := jobColumns(j)
	if err != nil {
		return err
	}
	args := append([]any{r.name, r.state, r.schedule, r.timeZone, r.st.nextFire, r.st.due}, r.st.exec.args()...)
	args = append(args, r.st.scheduleTime, r.res.status, r.res.lastAttempt, expectVersion, r.record, r.st.lastSlot)
	var (
		jobs, recs int64
		before     pgtype.Int8
	)
	err = q.run(ctx, func() error { return q.db.QueryRow(ctx, updateJobSQL, args...).Scan(&jobs, &recs, &before) })
	switch {
	case err != nil:
		return fmt.Errorf("postgres: update job %q: %w", r.name, err)
	case jobs == 1 && recs != 1:
		// Cannot happen while both rows are written together; refused
		// rather than leaving a job whose message is not the one written.
		return fmt.Errorf("postgres: update job %q: its message is missing", r.name)
	case jobs == 1:
		return nil
	case !before.Valid:
		return notFound("job", r.name)
	default:
		return fmt.Errorf("job %q (now version %d): %w", r.name, before.Int64, store.ErrVersionMismatch)
	}
}

// deleteJobSQL removes a job's rows, attempts and manual executions and
// leaves its last version as the name's tombstone, in one statement; it
// returns no row when the job does not exist (and then writes nothing).
const deleteJobSQL = `WITH d AS (DELETE FROM jobs WHERE name = $1 RETURNING version),
	t AS (INSERT INTO job_tombstones (name, version) SELECT $1, version FROM d
		ON CONFLICT (name) DO UPDATE SET version = excluded.version),
	r AS (DELETE FROM job_records WHERE name = $1 AND EXISTS (SELECT 1 FROM d)),
	a AS (DELETE FROM attempts WHERE job = $1 AND EXISTS (SELECT 1 FROM d)),
	m AS (DELETE FROM manual_executions WHERE job = $1 AND EXISTS (SELECT 1 FROM d))
	SELECT version FROM d`

func (q queries) DeleteJob(ctx context.Context, name string) error {
	err := q.run(ctx, func() error {
		var v int64
		return q.db.QueryRow(ctx, deleteJobSQL, name).Scan(&v)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound("job", name)
	}
	if err != nil {
		return fmt.Errorf("postgres: delete job %q: %w", name, err)
	}
	return nil
}

func (q queries) DueJobs(ctx context.Context, at time.Time, limit int) ([]store.JobRecord, error) {
	t, err := timeToDB(at)
	if err != nil {
		return nil, err
	}
	if !t.Valid {
		return nil, nil // nothing is due at the zero time
	}
	return q.listJobs(ctx, "due jobs", dueJobsSQL, t, rowcodec.Limit(limit))
}
