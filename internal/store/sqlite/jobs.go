package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"github.com/oidcron/oidcron/internal/store"
)

// ---- Atomic multi-statement writes ----

// atomically runs fn so that its statements take effect together. On the
// Store it is a transaction of its own on the writer. Inside InTx it is the
// caller's transaction: a write refused for a reason of the contract
// (ErrNotFound, ErrVersionMismatch) is found before fn writes anything, so
// that fn needs no savepoint (which would copy every page the batch touches
// into a statement journal); any other error fails the caller's
// transaction, which the caller then rolls back by returning it.
func (q queries) atomically(ctx context.Context, what string, fn func(tx *sql.Tx) error) (err error) {
	if q.tx != nil {
		return fn(q.tx)
	}
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: begin: %w", what, err)
	}
	defer func() {
		// Also on panic: the one writer connection must go back to the pool.
		if rbErr := ignoreTxDone(tx.Rollback()); rbErr != nil {
			err = errors.Join(err, fmt.Errorf("sqlite: %s: rollback: %w", what, rbErr))
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: commit: %w", what, err)
	}
	return nil
}

// ---- Jobs ----

// jobKey splits "projects/P/locations/L/jobs/J".
func jobKey(name string) (project, location string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "jobs" ||
		parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return "", "", fmt.Errorf("sqlite: job name %q is not projects/P/locations/L/jobs/J", name)
	}
	return parts[1], parts[3], nil
}

// jobRow is a JobRecord as the columns of its row.
type jobRow struct {
	name, project, location string
	nextFire, due           sql.NullInt64
	// Exec: manual is NULL exactly when Exec is nil (see 0002_jobs.sql).
	manual                sql.NullBool
	schedule, first, next sql.NullInt64
	attempts              sql.NullInt32
	owner                 sql.NullString
	leaseUntil            sql.NullInt64
	record                []byte
}

func jobColumns(j store.JobRecord) (jobRow, error) {
	var r jobRow
	if j.Job == nil {
		return r, errors.New("sqlite: job record without a Job")
	}
	r.name = j.Job.GetName()
	var err error
	if r.project, r.location, err = jobKey(r.name); err != nil {
		return r, err
	}
	times := []struct {
		t   time.Time
		dst *sql.NullInt64
	}{{j.NextFire, &r.nextFire}, {j.DueTime, &r.due}}
	if e := j.Exec; e != nil {
		r.manual = sql.NullBool{Bool: e.Manual, Valid: true}
		r.attempts = sql.NullInt32{Int32: e.Attempts, Valid: true}
		r.owner = sql.NullString{String: e.Owner, Valid: true}
		times = append(times, []struct {
			t   time.Time
			dst *sql.NullInt64
		}{{e.ScheduleTime, &r.schedule}, {e.FirstAttempt, &r.first}, {e.NextAttempt, &r.next}, {e.LeaseUntil, &r.leaseUntil}}...)
	}
	for _, tm := range times {
		if *tm.dst, err = timeToDB(tm.t); err != nil {
			return r, fmt.Errorf("job %q: %w", r.name, err)
		}
	}
	r.record, err = encode("job", j.Job)
	return r, err
}

// jobSelect is what every job read selects, in scanJob's order.
const jobSelect = `SELECT version, next_fire, due_time, exec_manual, exec_schedule_time, exec_attempts,
	exec_first_attempt, exec_next_attempt, exec_owner, exec_lease_until, record FROM jobs`

type scanner interface{ Scan(dest ...any) error }

// scannedJob is a job's row as read, its record not yet decoded.
type scannedJob struct {
	version int64
	row     jobRow
}

func scanJobRow(s scanner) (scannedJob, error) {
	var j scannedJob
	r := &j.row
	err := s.Scan(&j.version, &r.nextFire, &r.due, &r.manual, &r.schedule, &r.attempts,
		&r.first, &r.next, &r.owner, &r.leaseUntil, &r.record)
	return j, err
}

// decode turns a scanned row into the record; it touches nothing shared,
// so rows can be decoded on several goroutines.
func (s scannedJob) decode() (store.JobRecord, error) {
	r := s.row
	job, err := decode("job", r.record, &schedulerpb.Job{})
	if err != nil {
		return store.JobRecord{}, err
	}
	j := store.JobRecord{Job: job, Version: s.version, NextFire: timeFromDB(r.nextFire), DueTime: timeFromDB(r.due)}
	if r.manual.Valid {
		j.Exec = &store.Execution{
			ScheduleTime: timeFromDB(r.schedule),
			Manual:       r.manual.Bool,
			Attempts:     r.attempts.Int32,
			FirstAttempt: timeFromDB(r.first),
			NextAttempt:  timeFromDB(r.next),
			Owner:        r.owner.String,
			LeaseUntil:   timeFromDB(r.leaseUntil),
		}
	}
	return j, nil
}

// decodeChunk is how many rows listJobs hands to another goroutine at once:
// enough that the hand-off costs nothing next to decoding them, few enough
// that a page of a few thousand keeps every core busy.
const decodeChunk = 256

// jobChunk is one chunk of rows and, once decoded, its records.
type jobChunk struct {
	rows []scannedJob
	out  []store.JobRecord
	err  error
}

func (c *jobChunk) decode() {
	c.out = make([]store.JobRecord, len(c.rows))
	for i, r := range c.rows {
		if c.out[i], c.err = r.decode(); c.err != nil {
			return
		}
	}
	c.rows = nil // the raw records can go before the page is done
}

// listJobs runs a query selecting jobSelect's columns and returns its rows
// as records, in order.
//
// Decoding the Job message costs about as much as reading its row, and a
// large page (ScanJobs loading every job at start, a DueJobs burst) is
// read on one connection by one goroutine. So rows are decoded a chunk at a
// time on other goroutines while this one goes on reading, up to one per
// spare core; when they are all busy it decodes the chunk itself. A small
// result never leaves this goroutine.
func listJobs(ctx context.Context, q querier, query string, args ...any) ([]store.JobRecord, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list jobs: %w", err)
	}
	defer rows.Close()
	var (
		chunks []*jobChunk
		cur    = &jobChunk{}
		wg     sync.WaitGroup
		// One slot per core beyond this goroutine's.
		spare = make(chan struct{}, max(runtime.GOMAXPROCS(0)-1, 0))
	)
	// Every started goroutine is waited for, also on an early return, so
	// none outlives the call.
	defer wg.Wait()
	for rows.Next() {
		j, err := scanJobRow(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list jobs: %w", err)
		}
		cur.rows = append(cur.rows, j)
		if len(cur.rows) < decodeChunk {
			continue
		}
		c := cur
		chunks = append(chunks, c)
		cur = &jobChunk{rows: make([]scannedJob, 0, decodeChunk)}
		select {
		case spare <- struct{}{}:
			wg.Go(func() {
				defer func() { <-spare }()
				c.decode()
			})
		default:
			c.decode()
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list jobs: %w", err)
	}
	if len(cur.rows) > 0 {
		cur.decode()
		chunks = append(chunks, cur)
	}
	wg.Wait()
	n := 0
	for _, c := range chunks {
		if c.err != nil {
			return nil, c.err
		}
		n += len(c.out)
	}
	if len(chunks) == 1 {
		return chunks[0].out, nil
	}
	out := make([]store.JobRecord, 0, n)
	for _, c := range chunks {
		out = append(out, c.out...)
	}
	return out, nil
}

func (q queries) CreateJob(ctx context.Context, j store.JobRecord) error {
	r, err := jobColumns(j)
	if err != nil {
		return err
	}
	res, err := q.w.ExecContext(ctx, `INSERT INTO jobs (name, project_id, location, version, next_fire, due_time,
		exec_manual, exec_schedule_time, exec_attempts, exec_first_attempt, exec_next_attempt, exec_owner, exec_lease_until, record)
		VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.name, r.project, r.location, r.nextFire, r.due,
		r.manual, r.schedule, r.attempts, r.first, r.next, r.owner, r.leaseUntil, r.record)
	if err != nil {
		return fmt.Errorf("sqlite: create job: %w", err)
	}
	if n, err := affected(res); err != nil {
		return err
	} else if n == 0 {
		return alreadyExists("job", r.name)
	}
	return nil
}

func (q queries) GetJob(ctx context.Context, name string) (store.JobRecord, error) {
	s, err := scanJobRow(q.r.QueryRowContext(ctx, jobSelect+` WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.JobRecord{}, notFound("job", name)
	}
	if err != nil {
		return store.JobRecord{}, fmt.Errorf("sqlite: get job %q: %w", name, err)
	}
	return s.decode()
}

// The reads that must be index range scans, without a sort, however many
// jobs there are (TestJobQueryPlans holds them to it).
const (
	listJobsSQL = jobSelect + ` WHERE project_id = ? AND location = ? AND name > ? ORDER BY name LIMIT ?`
	scanJobsSQL = jobSelect + ` WHERE name > ? ORDER BY name LIMIT ?`
	// "due_time IS NOT NULL" is spelled out so that the planner can use the
	// partial index jobs_due whatever it infers from the comparison.
	dueJobsSQL = jobSelect + ` WHERE due_time IS NOT NULL AND due_time <= ? ORDER BY due_time, name LIMIT ?`
)

func (q queries) ListJobs(ctx context.Context, projectID, location string, page store.Page) ([]store.JobRecord, error) {
	return listJobs(ctx, q.r, listJobsSQL, projectID, location, page.After, limit(page))
}

func (q queries) ScanJobs(ctx context.Context, page store.Page) ([]store.JobRecord, error) {
	return listJobs(ctx, q.r, scanJobsSQL, page.After, limit(page))
}

// updateJobSQL replaces a job's state and record when its version is the
// expected one (any, for 0). Only these columns are set: project_id and
// location are parts of the name, and leaving them out of SET spares SQLite
// the ListJobs index on every one of the engine's writes.
const updateJobSQL = `UPDATE jobs SET version = version + 1, next_fire = ?, due_time = ?,
	exec_manual = ?, exec_schedule_time = ?, exec_attempts = ?, exec_first_attempt = ?, exec_next_attempt = ?,
	exec_owner = ?, exec_lease_until = ?, record = ?
	WHERE name = ? AND (? = 0 OR version = ?)`

func updateJobArgs(r jobRow, expectVersion int64) []any {
	return []any{r.nextFire, r.due, r.manual, r.schedule, r.attempts, r.first, r.next, r.owner, r.leaseUntil, r.record,
		r.name, expectVersion, expectVersion}
}

// updateRefused tells why an update changed no row: the job is gone, or its
// version moved. Read on the connection that wrote, so that inside a
// transaction it sees the transaction's own writes.
func (q queries) updateRefused(ctx context.Context, name string) error {
	st, done := stmtIn(ctx, q.tx, q.ws.jobVersion)
	defer done()
	var v int64
	err := st.QueryRowContext(ctx, name).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return notFound("job", name)
	case err != nil:
		return fmt.Errorf("sqlite: update job %q: %w", name, err)
	}
	return fmt.Errorf("job %q (now version %d): %w", name, v, store.ErrVersionMismatch)
}

func (q queries) UpdateJob(ctx context.Context, j store.JobRecord, expectVersion int64) error {
	r, err := jobColumns(j)
	if err != nil {
		return err
	}
	// One statement: the version check and the write cannot be split by
	// another writer, even outside a transaction.
	st, done := stmtIn(ctx, q.tx, q.ws.updateJob)
	defer done()
	res, err := st.ExecContext(ctx, updateJobArgs(r, expectVersion)...)
	if err != nil {
		return fmt.Errorf("sqlite: update job: %w", err)
	}
	if n, err := affected(res); err != nil {
		return err
	} else if n == 0 {
		return q.updateRefused(ctx, r.name)
	}
	return nil
}

func (q queries) UpdateJobs(ctx context.Context, js []store.JobRecord) error {
	if len(js) == 0 {
		return nil
	}
	// Encode everything first, so that a bad record fails the batch before
	// it costs the writer anything.
	rows := make([]jobRow, len(js))
	names := make([]string, len(js))
	for i, j := range js {
		r, err := jobColumns(j)
		if err != nil {
			return fmt.Errorf("batch record %d: %w", i, err)
		}
		rows[i], names[i] = r, r.name
	}
	return q.atomically(ctx, "update jobs", func(tx *sql.Tx) error {
		// Check every record before writing any. Every transaction on the
		// writer holds SQLite's write lock from BEGIN (_txlock=immediate),
		// so the versions read here are still the stored ones when the
		// writes below run.
		cur, err := jobVersions(ctx, tx, q.ws, names)
		if err != nil {
			return err
		}
		expect := make([]int64, len(rows))
		for i, r := range rows {
			v, ok := cur[r.name]
			switch {
			case !ok:
				return &store.BatchError{Index: i, Name: r.name, Err: notFound("job", r.name)}
			case js[i].Version != 0 && js[i].Version != v:
				return &store.BatchError{Index: i, Name: r.name,
					Err: fmt.Errorf("job %q (now version %d): %w", r.name, v, store.ErrVersionMismatch)}
			}
			// A job twice in one batch: its second record sees the first's write.
			expect[i], cur[r.name] = v, v+1
		}
		// Prepared once on the writer, run once per record.
		stmt, done := stmtIn(ctx, tx, q.ws.updateJob)
		defer done()
		for i, r := range rows {
			res, err := stmt.ExecContext(ctx, updateJobArgs(r, expect[i])...)
			if err != nil {
				return fmt.Errorf("sqlite: update jobs: record %d, job %q: %w", i, r.name, err)
			}
			if n, err := affected(res); err != nil {
				return err
			} else if n != 1 {
				// The write lock rules this out; if it happens the
				// transaction is not what the check saw, so fail it.
				return fmt.Errorf("sqlite: update jobs: job %q changed during its batch", r.name)
			}
		}
		return nil
	})
}

// jobVersions reads, in tx, the stored version of each named job that
// exists, up to versionChunk names to a statement. Each statement is one of
// ws's prepared IN lists, its spare places filled with the chunk's last
// name again (a name twice in an IN list is one row).
func jobVersions(ctx context.Context, tx *sql.Tx, ws *writerStmts, names []string) (map[string]int64, error) {
	out := make(map[string]int64, len(names))
	args := make([]any, 0, 1<<versionSize(min(len(names), versionChunk)))
	for lo := 0; lo < len(names); lo += versionChunk {
		chunk := names[lo:min(lo+versionChunk, len(names))]
		k := versionSize(len(chunk))
		args = args[:0]
		for _, n := range chunk {
			args = append(args, n)
		}
		for len(args) < 1<<k {
			args = append(args, chunk[len(chunk)-1])
		}
		st, done := stmtIn(ctx, tx, ws.versions[k])
		err := readVersions(ctx, st, args, out)
		done()
		if err != nil {
			return nil, fmt.Errorf("sqlite: read job versions: %w", err)
		}
	}
	return out, nil
}

func readVersions(ctx context.Context, st *sql.Stmt, args []any, out map[string]int64) error {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			n string
			v int64
		)
		if err := rows.Scan(&n, &v); err != nil {
			return err
		}
		out[n] = v
	}
	return rows.Err()
}

const deleteJobAttemptsSQL = `DELETE FROM attempts WHERE job = ?`

func (q queries) DeleteJob(ctx context.Context, name string) error {
	return q.atomically(ctx, "delete job", func(tx *sql.Tx) error {
		// The job first: when it is absent nothing has been written.
		res, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE name = ?`, name)
		if err != nil {
			return fmt.Errorf("sqlite: delete job: %w", err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			return notFound("job", name)
		}
		if _, err := tx.ExecContext(ctx, deleteJobAttemptsSQL, name); err != nil {
			return fmt.Errorf("sqlite: delete job %q: its attempts: %w", name, err)
		}
		return nil
	})
}

func (q queries) DueJobs(ctx context.Context, at time.Time, limit int) ([]store.JobRecord, error) {
	t, err := timeToDB(at)
	if err != nil {
		return nil, err
	}
	if !t.Valid {
		return nil, nil // nothing is due at the zero time
	}
	n := int64(math.MaxInt64)
	if limit > 0 {
		n = int64(limit)
	}
	return listJobs(ctx, q.r, dueJobsSQL, t, n)
}

// ---- Attempts ----

// attemptRow is an Attempt as the columns of its row.
type attemptRow struct {
	a             store.Attempt
	schedule, end sql.NullInt64
	start         int64
}

func attemptColumns(a store.Attempt) (attemptRow, error) {
	r := attemptRow{a: a}
	if a.Job == "" {
		return r, errors.New("sqlite: attempt without a job")
	}
	if a.Start.IsZero() {
		// Attempts are ordered and trimmed by Start; without one the order
		// is meaningless.
		return r, fmt.Errorf("sqlite: attempt %d of job %q: no start time", a.Number, a.Job)
	}
	s, err := timeToDB(a.Start)
	if err != nil {
		return r, fmt.Errorf("attempt of job %q: %w", a.Job, err)
	}
	r.start = s.Int64
	if r.schedule, err = timeToDB(a.ScheduleTime); err != nil {
		return r, fmt.Errorf("attempt of job %q: %w", a.Job, err)
	}
	if r.end, err = timeToDB(a.End); err != nil {
		return r, fmt.Errorf("attempt of job %q: %w", a.Job, err)
	}
	return r, nil
}

// addAttemptSQL inserts an attempt only while its job exists (see the
// contract of AddAttempts); the lookup is one probe of the jobs primary key.
const addAttemptSQL = `INSERT INTO attempts (job, schedule_time, manual, number, start_time, end_time, url, http_status, code, message)
	SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM jobs WHERE name = ?)`

func (q queries) AddAttempts(ctx context.Context, as []store.Attempt) error {
	if len(as) == 0 {
		return nil
	}
	rows := make([]attemptRow, len(as))
	for i, a := range as {
		r, err := attemptColumns(a)
		if err != nil {
			return err
		}
		rows[i] = r
	}
	return q.atomically(ctx, "add attempts", func(tx *sql.Tx) error {
		stmt, done := stmtIn(ctx, tx, q.ws.addAttempt)
		defer done()
		for _, r := range rows {
			a := r.a
			if _, err := stmt.ExecContext(ctx, a.Job, r.schedule, a.Manual, a.Number, r.start, r.end,
				a.URL, a.HTTPStatus, a.Code, a.Message, a.Job); err != nil {
				return fmt.Errorf("sqlite: add attempt of job %q: %w", a.Job, err)
			}
		}
		return nil
	})
}

// Two queries rather than one with an optional bound, so that each is a
// plain range of the index attempts_job_newest, read in its order.
const (
	attemptSelect         = `SELECT job, schedule_time, manual, number, start_time, end_time, url, http_status, code, message FROM attempts`
	attemptOrder          = ` ORDER BY start_time DESC, number DESC, id DESC LIMIT ?`
	listAttemptsSQL       = attemptSelect + ` WHERE job = ?` + attemptOrder
	listAttemptsBeforeSQL = attemptSelect + ` WHERE job = ? AND start_time < ?` + attemptOrder
)

func (q queries) ListAttempts(ctx context.Context, job string, limit int, before time.Time) ([]store.Attempt, error) {
	n := int64(math.MaxInt64)
	if limit > 0 {
		n = int64(limit)
	}
	b, err := timeToDB(before)
	if err != nil {
		return nil, err
	}
	var rows *sql.Rows
	if b.Valid {
		rows, err = q.r.QueryContext(ctx, listAttemptsBeforeSQL, job, b, n)
	} else {
		rows, err = q.r.QueryContext(ctx, listAttemptsSQL, job, n)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list attempts: %w", err)
	}
	defer rows.Close()
	var out []store.Attempt
	for rows.Next() {
		var (
			a             store.Attempt
			schedule, end sql.NullInt64
			start         int64
		)
		if err := rows.Scan(&a.Job, &schedule, &a.Manual, &a.Number, &start, &end,
			&a.URL, &a.HTTPStatus, &a.Code, &a.Message); err != nil {
			return nil, fmt.Errorf("sqlite: list attempts: %w", err)
		}
		a.ScheduleTime = timeFromDB(schedule)
		a.Start = time.Unix(0, start).UTC()
		a.End = timeFromDB(end)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list attempts: %w", err)
	}
	return out, nil
}

const trimAttemptsSQL = `DELETE FROM attempts WHERE id IN (
	SELECT id FROM (
		SELECT id, ROW_NUMBER() OVER (PARTITION BY job ORDER BY start_time DESC, number DESC, id DESC) AS newest
		FROM attempts
	) AS ranked WHERE newest > ?)`

func (q queries) TrimAttempts(ctx context.Context, keep int) (int64, error) {
	if keep < 0 {
		return 0, fmt.Errorf("sqlite: trim attempts: keep %d is negative", keep)
	}
	// One statement, so it is atomic outside InTx too. The ranking is
	// ListAttempts' order, computed per job from the index without a sort.
	res, err := q.w.ExecContext(ctx, trimAttemptsSQL, keep)
	if err != nil {
		return 0, fmt.Errorf("sqlite: trim attempts: %w", err)
	}
	return affected(res)
}
