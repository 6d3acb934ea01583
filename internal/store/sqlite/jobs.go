package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/rowcodec"
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
//
// A job is two rows (0003_job_state.sql): its narrow row in jobs (key,
// version, the Job fields the engine acts on, the engine's state, and the
// output fields the engine writes) and its Job message in job_records.

// execCols is a JobRecord's Exec as columns: manual is NULL exactly when
// Exec is nil (see 0002_jobs.sql), and claim is 0 then (0005).
type execCols struct {
	manual                sql.NullBool
	schedule, first, next sql.NullInt64
	attempts              sql.NullInt32
	owner                 sql.NullString
	leaseUntil            sql.NullInt64
	claim                 int64
}

// execColumnList is execCols' columns in the order of execCols.args and
// dests. exec_claim (0005) comes last: the columns before it are 0002's,
// which migration 0003's step reads and writes (execColumnList0002).
const execColumnList = execColumnList0002 + `, exec_claim`

func execColumns(e *store.Execution) (execCols, error) {
	var c execCols
	if e == nil {
		return c, nil
	}
	c.manual = sql.NullBool{Bool: e.Manual, Valid: true}
	c.attempts = sql.NullInt32{Int32: e.Attempts, Valid: true}
	c.owner = sql.NullString{String: e.Owner, Valid: true}
	c.claim = e.Claim
	for _, tm := range []struct {
		t   time.Time
		dst *sql.NullInt64
	}{{e.ScheduleTime, &c.schedule}, {e.FirstAttempt, &c.first}, {e.NextAttempt, &c.next}, {e.LeaseUntil, &c.leaseUntil}} {
		var err error
		if *tm.dst, err = timeToDB(tm.t); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (c *execCols) args() []any {
	return append(c.args0002(), c.claim)
}

// appendValues appends args' values to dst as the driver takes them (see
// intArg).
func (c *execCols) appendValues(dst []any) []any {
	var manual, attempts, owner any
	if c.manual.Valid {
		manual = c.manual.Bool
	}
	if c.attempts.Valid {
		attempts = int64(c.attempts.Int32)
	}
	if c.owner.Valid {
		owner = c.owner.String
	}
	return append(dst, manual, intArg(c.schedule), attempts, intArg(c.first), intArg(c.next), owner, intArg(c.leaseUntil), c.claim)
}

// intArg is a nullable integer column's argument as the driver takes it:
// nil or an int64. Passed as a sql.NullInt64, database/sql boxes the
// struct, then calls its Value and boxes the int64 again: on the writer's
// hot statements that was a tenth of the bytes a burst allocates.
func intArg(n sql.NullInt64) any {
	if !n.Valid {
		return nil
	}
	return n.Int64
}

func (c *execCols) dests() []any {
	return append(c.dests0002(), &c.claim)
}

func (c *execCols) exec() *store.Execution {
	if !c.manual.Valid {
		return nil
	}
	return &store.Execution{
		ScheduleTime: rowcodec.TimeFromDB(c.schedule),
		Manual:       c.manual.Bool,
		Attempts:     c.attempts.Int32,
		FirstAttempt: rowcodec.TimeFromDB(c.first),
		NextAttempt:  rowcodec.TimeFromDB(c.next),
		Owner:        c.owner.String,
		LeaseUntil:   rowcodec.TimeFromDB(c.leaseUntil),
		Claim:        c.claim,
	}
}

// stateCols are the engine's columns that every write of a job sets;
// lastSlot only ever moves forward (the later of the stored and this).
type stateCols struct {
	nextFire, due sql.NullInt64
	exec          execCols
	scheduleTime  sql.NullInt64
	lastSlot      sql.NullInt64
}

func stateColumns(nextFire, due, scheduleTime time.Time, e *store.Execution) (stateCols, error) {
	var c stateCols
	var err error
	if c.nextFire, err = timeToDB(nextFire); err != nil {
		return c, err
	}
	if c.due, err = timeToDB(due); err != nil {
		return c, err
	}
	if c.scheduleTime, err = timeToDB(scheduleTime); err != nil {
		return c, err
	}
	c.exec, err = execColumns(e)
	return c, err
}

// resultCols are a job's status and last_attempt_time.
type resultCols struct {
	status      []byte // nil: NULL (no status); an OK status is an empty blob
	lastAttempt sql.NullInt64
}

func resultColumns(st *statuspb.Status, lastAttempt time.Time) (resultCols, error) {
	var c resultCols
	if st != nil {
		b, err := encode("job status", st)
		if err != nil {
			return c, err
		}
		c.status = rowcodec.NonNil(b)
	}
	var err error
	c.lastAttempt, err = timeToDB(lastAttempt)
	return c, err
}

// jobRow is a JobRecord as the columns of its two rows.
type jobRow struct {
	name, project, location string
	state                   int32
	schedule, timeZone      string
	st                      stateCols
	res                     resultCols
	record                  []byte
}

func jobColumns(j store.JobRecord) (jobRow, error) {
	var r jobRow
	if j.Job == nil {
		return r, errors.New("sqlite: job record without a Job")
	}
	job := j.Job
	r.name = job.GetName()
	var err error
	if r.project, r.location, err = rowcodec.JobKey(backend, r.name); err != nil {
		return r, err
	}
	r.state, r.schedule, r.timeZone = int32(job.GetState()), job.GetSchedule(), job.GetTimeZone()
	if r.st, err = stateColumns(j.NextFire, j.DueTime, rowcodec.TimeOf(job.GetScheduleTime()), j.Exec); err != nil {
		return r, fmt.Errorf("job %q: %w", r.name, err)
	}
	if r.st.lastSlot, err = timeToDB(j.LastSlot); err != nil {
		return r, fmt.Errorf("job %q: %w", r.name, err)
	}
	if r.res, err = resultColumns(job.GetStatus(), rowcodec.TimeOf(job.GetLastAttemptTime())); err != nil {
		return r, fmt.Errorf("job %q: %w", r.name, err)
	}
	// The message is stored as given, output fields included; the columns
	// are what a read shows for those (jobFromRow).
	r.record, err = encode("job", job)
	return r, err
}

// jobSelect is what every read of whole records selects, in scanJobRow's
// order. CROSS JOIN keeps jobs the outer loop: the conditions are on it,
// and each of its rows finds its message by name.
const jobSelect = `SELECT j.incarnation, j.version, j.next_fire, j.due_time,
	j.exec_manual, j.exec_schedule_time, j.exec_attempts, j.exec_first_attempt, j.exec_next_attempt, j.exec_owner, j.exec_lease_until,
	j.exec_claim, j.status, j.last_attempt_time, j.schedule_time, j.last_slot, r.record
	FROM jobs AS j CROSS JOIN job_records AS r ON r.name = j.name`

// scannedJob is a job's rows as read, its message not yet decoded (record
// is a slice of its chunk's buffer, or its own for a single row).
type scannedJob struct {
	incarnation, version int64
	nextFire, due        sql.NullInt64
	exec                 execCols
	status               sql.Null[[]byte]
	lastAttempt, sched   sql.NullInt64
	lastSlot             sql.NullInt64
	raw                  sql.RawBytes // the record as the driver holds it, until the next row
	record               []byte
}

// dests points dest (len jobColumns) at j's fields, in jobSelect's order.
func (j *scannedJob) dests(dest []any) []any {
	dest = append(dest[:0], &j.incarnation, &j.version, &j.nextFire, &j.due,
		&j.exec.manual, &j.exec.schedule, &j.exec.attempts, &j.exec.first, &j.exec.next, &j.exec.owner, &j.exec.leaseUntil,
		&j.exec.claim, &j.status, &j.lastAttempt, &j.sched, &j.lastSlot, &j.raw)
	return dest
}

// decode turns a scanned row into the record; it touches nothing shared,
// so rows can be decoded on several goroutines.
func (s *scannedJob) decode() (store.JobRecord, error) {
	job, err := decode("job", s.record, &schedulerpb.Job{})
	if err != nil {
		return store.JobRecord{}, err
	}
	// The engine's output fields are the columns', not the message's copies.
	job.Status = nil
	if s.status.Valid {
		if job.Status, err = decode("job status", s.status.V, &statuspb.Status{}); err != nil {
			return store.JobRecord{}, err
		}
	}
	job.LastAttemptTime = rowcodec.TimestampFromDB(s.lastAttempt)
	job.ScheduleTime = rowcodec.TimestampFromDB(s.sched)
	return store.JobRecord{Job: job, Version: s.version, Incarnation: s.incarnation,
		NextFire: rowcodec.TimeFromDB(s.nextFire), DueTime: rowcodec.TimeFromDB(s.due), Exec: s.exec.exec(),
		LastSlot: rowcodec.TimeFromDB(s.lastSlot)}, nil
}

// decodeChunk is how many rows listJobs hands to another goroutine at once:
// enough that the hand-off costs nothing next to decoding them, few enough
// that a page of a few thousand keeps every core busy.
const decodeChunk = 256

// jobChunk is one chunk of rows and, once decoded, its records. The rows'
// records are copied into one buffer per chunk rather than one allocation
// per row.
type jobChunk struct {
	rows []scannedJob
	buf  []byte
	out  []store.JobRecord
	err  error
}

// newChunk makes a chunk of at most rows rows whose buffer holds bufHint
// bytes before it grows: the size of the chunk before it, as jobs read
// together are alike.
func newChunk(bufHint, rows int) *jobChunk {
	c := &jobChunk{rows: make([]scannedJob, 0, rows)}
	if bufHint > 0 {
		c.buf = make([]byte, 0, bufHint+bufHint/8)
	}
	return c
}

func (c *jobChunk) decode() {
	c.out = make([]store.JobRecord, len(c.rows))
	for i := range c.rows {
		if c.out[i], c.err = c.rows[i].decode(); c.err != nil {
			return
		}
	}
	c.rows, c.buf = nil, nil // the raw records can go before the page is done
}

// listJobs runs a query selecting jobSelect's columns and returns its rows
// as records, in order.
//
// Decoding the Job message costs about as much as reading its rows, and a
// large result (ScanJobs, a DueJobs burst) is read on one connection by one
// goroutine. So rows are decoded a chunk at a time on other goroutines
// while this one goes on reading, up to one per spare core; when they are
// all busy it decodes the chunk itself. A small result never leaves this
// goroutine.
//
// most is the most rows the query can return (a limit, the number of
// names), or 0 when unknown: a chunk is made no larger, so that reading one
// job does not allocate room for decodeChunk, and the chunk that reaches it
// is decoded here, as no row can follow.
func listJobs(ctx context.Context, q querier, most int, query string, args ...any) ([]store.JobRecord, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list jobs: %w", err)
	}
	defer rows.Close()
	var (
		chunks []*jobChunk
		cur    *jobChunk // made when its first row comes
		hint   int       // the buffer size of the chunk before cur
		wg     sync.WaitGroup
		// One slot per core beyond this goroutine's.
		spare = make(chan struct{}, max(runtime.GOMAXPROCS(0)-1, 0))
		dest  []any
		// Where each row's record starts in its chunk's buffer.
		offs = make([]int, 0, decodeChunk+1)
	)
	// Every started goroutine is waited for, also on an early return, so
	// none outlives the call.
	defer wg.Wait()
	seal := func(c *jobChunk) {
		// The buffer is complete: the rows' records can point into it.
		offs = append(offs, len(c.buf))
		for i := range c.rows {
			c.rows[i].record = c.buf[offs[i]:offs[i+1]:offs[i+1]]
		}
		offs = offs[:0]
	}
	rowCap := decodeChunk
	if most > 0 {
		rowCap = min(rowCap, most)
	}
	for rows.Next() {
		if cur == nil {
			cur = newChunk(hint, rowCap)
		}
		// Scanned in place: the chunk's rows never move (a chunk is sealed
		// when full, never grown).
		cur.rows = cur.rows[:len(cur.rows)+1]
		j := &cur.rows[len(cur.rows)-1]
		*j = scannedJob{}
		dest = j.dests(dest)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlite: list jobs: %w", err)
		}
		offs = append(offs, len(cur.buf))
		cur.buf = append(cur.buf, j.raw...)
		j.raw = nil
		if len(cur.rows) < cap(cur.rows) {
			continue
		}
		c := cur
		seal(c)
		chunks = append(chunks, c)
		cur, hint = nil, len(c.buf)
		if most > 0 && len(chunks)*rowCap >= most {
			// The query can return no more rows: nothing would be read
			// while another goroutine decodes this chunk.
			c.decode()
			continue
		}
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
	if cur != nil {
		seal(cur)
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

const (
	tombstoneSQL = `SELECT version FROM job_tombstones WHERE name = ?`
	createJobSQL = `INSERT INTO jobs (name, project_id, location, incarnation, version, state, schedule, time_zone,
		next_fire, due_time, ` + execColumnList + `, schedule_time, status, last_attempt_time, last_slot)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
	createJobRecordSQL = `INSERT INTO job_records (name, record) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET record = excluded.record`
)

func (q queries) CreateJob(ctx context.Context, j store.JobRecord) error {
	r, err := jobColumns(j)
	if err != nil {
		return err
	}
	return q.atomically(ctx, "create job", func(tx *sql.Tx) error {
		// The write lock is held from BEGIN: the tombstone read here is
		// still the stored one when the row is inserted.
		tomb, done := stmtIn(ctx, tx, q.ws.tombstone)
		defer done()
		var last int64
		switch err := tomb.QueryRowContext(ctx, r.name).Scan(&last); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("sqlite: create job: %w", err)
		}
		v := last + 1
		args := append([]any{r.name, r.project, r.location, v, v, r.state, r.schedule, r.timeZone, r.st.nextFire, r.st.due},
			r.st.exec.args()...)
		args = append(args, r.st.scheduleTime, r.res.status, r.res.lastAttempt, r.st.lastSlot)
		ins, idone := stmtIn(ctx, tx, q.ws.createJob)
		defer idone()
		res, err := ins.ExecContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("sqlite: create job: %w", err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			return alreadyExists("job", r.name) // nothing written
		}
		rec, rdone := stmtIn(ctx, tx, q.ws.createRecord)
		defer rdone()
		if _, err := rec.ExecContext(ctx, r.name, r.record); err != nil {
			return fmt.Errorf("sqlite: create job: %w", err)
		}
		return nil
	})
}

func (q queries) GetJob(ctx context.Context, name string) (store.JobRecord, error) {
	rs, err := listJobs(ctx, q.r, 1, getJobSQL, name)
	if err != nil {
		return store.JobRecord{}, fmt.Errorf("sqlite: get job %q: %w", name, err)
	}
	if len(rs) == 0 {
		return store.JobRecord{}, notFound("job", name)
	}
	return rs[0], nil
}

func (q queries) GetJobs(ctx context.Context, names []string) ([]store.JobRecord, error) {
	if len(names) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(names)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get jobs: %w", err)
	}
	return listJobs(ctx, q.r, len(names), getJobsSQL, string(list))
}

// The reads that must be index range scans, without a sort, however many
// jobs there are (TestJobQueryPlans holds them to it).
const (
	getJobSQL = jobSelect + ` WHERE j.name = ?`
	// One JSON array of names: one statement whatever their number.
	getJobsSQL  = jobSelect + ` WHERE j.name IN (SELECT value FROM json_each(?)) ORDER BY j.name`
	listJobsSQL = jobSelect + ` WHERE j.project_id = ? AND j.location = ? AND j.name > ? ORDER BY j.name LIMIT ?`
	scanJobsSQL = jobSelect + ` WHERE j.name > ? ORDER BY j.name LIMIT ?`
	// A scan: the Store contract has DueJobs, but the engine of this
	// backend keeps due times in memory and never calls it (0006).
	dueJobsSQL = jobSelect + ` WHERE j.due_time IS NOT NULL AND j.due_time <= ? ORDER BY j.due_time, j.name LIMIT ?`
	// The load at start reads the narrow rows only.
	scanHeadsSQL = `SELECT name, incarnation, version, state, schedule, time_zone, next_fire, last_slot, ` + execJSON + `
		FROM jobs WHERE name > ? ORDER BY name LIMIT ?`
)

func (q queries) ListJobs(ctx context.Context, projectID, location string, page store.Page) ([]store.JobRecord, error) {
	return listJobs(ctx, q.r, max(page.Size, 0), listJobsSQL, projectID, location, page.After, rowcodec.Limit(page.Size))
}

func (q queries) ScanJobs(ctx context.Context, page store.Page) ([]store.JobRecord, error) {
	return listJobs(ctx, q.r, max(page.Size, 0), scanJobsSQL, page.After, rowcodec.Limit(page.Size))
}

func (q queries) ScanJobHeads(ctx context.Context, page store.Page) ([]store.JobHead, error) {
	rows, err := q.r.QueryContext(ctx, scanHeadsSQL, page.After, rowcodec.Limit(page.Size))
	if err != nil {
		return nil, fmt.Errorf("sqlite: scan jobs: %w", err)
	}
	defer rows.Close()
	var (
		out []store.JobHead
		// Most jobs share a few schedules and zones: one string each.
		interned                 = map[string]string{}
		schedule, timeZone, exec sql.RawBytes
		nextFire, lastSlot       sql.NullInt64
		state                    int32
	)
	intern := func(b []byte) string {
		if s, ok := interned[string(b)]; ok {
			return s
		}
		s := string(b)
		interned[s] = s
		return s
	}
	if page.Size > 0 {
		out = make([]store.JobHead, 0, min(page.Size, 1<<16))
	}
	for rows.Next() {
		var h store.JobHead
		if err := rows.Scan(&h.Name, &h.Incarnation, &h.Version, &state, &schedule, &timeZone, &nextFire, &lastSlot, &exec); err != nil {
			return nil, fmt.Errorf("sqlite: scan jobs: %w", err)
		}
		h.State = schedulerpb.Job_State(state)
		h.Schedule, h.TimeZone = intern(schedule), intern(timeZone)
		h.NextFire, h.LastSlot = rowcodec.TimeFromDB(nextFire), rowcodec.TimeFromDB(lastSlot)
		if exec != nil {
			if h.Exec, err = execFromJSON(exec); err != nil {
				return nil, fmt.Errorf("sqlite: scan jobs: job %q: %w", h.Name, err)
			}
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: scan jobs: %w", err)
	}
	return out, nil
}

// execJSON is the execution columns as one JSON array (NULL without an
// execution), in execColumnList's order: the load at start reads one
// column, not eight, for the many jobs that have none.
const execJSON = `CASE WHEN exec_manual IS NULL THEN NULL ELSE json_array(` + execColumnList + `) END`

func execFromJSON(b []byte) (*store.Execution, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // nanoseconds do not fit a float64
	var v []any
	if err := d.Decode(&v); err != nil || len(v) != 8 {
		return nil, fmt.Errorf("execution %s: %v", b, err)
	}
	var c execCols
	ints := []*sql.NullInt64{nil, &c.schedule, nil, &c.first, &c.next, nil, &c.leaseUntil, nil}
	for i, x := range v {
		switch {
		case x == nil:
		case i == 5:
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("execution %s: owner is not a string", b)
			}
			c.owner = sql.NullString{String: s, Valid: true}
		default:
			n, err := x.(json.Number).Int64()
			if err != nil {
				return nil, fmt.Errorf("execution %s: %w", b, err)
			}
			switch i {
			case 0:
				c.manual = sql.NullBool{Bool: n != 0, Valid: true}
			case 2:
				c.attempts = sql.NullInt32{Int32: int32(n), Valid: true}
			case 7:
				c.claim = n
			default:
				*ints[i] = sql.NullInt64{Int64: n, Valid: true}
			}
		}
	}
	return c.exec(), nil
}

// updateJobSQL replaces a job's narrow row when its version is the
// expected one (any, for 0). project_id, location and incarnation are left
// out of SET: the first two are parts of the name, and leaving them out
// spares SQLite the ListJobs index on every write. Every write keeps the
// later last_slot (setLastSlot).
const (
	updateJobSQL = `UPDATE jobs SET version = version + 1, state = ?, schedule = ?, time_zone = ?, next_fire = ?, due_time = ?,
	exec_manual = ?, exec_schedule_time = ?, exec_attempts = ?, exec_first_attempt = ?, exec_next_attempt = ?,
	exec_owner = ?, exec_lease_until = ?, exec_claim = ?, schedule_time = ?, status = ?, last_attempt_time = ?, ` + setLastSlot + `
	WHERE name = ? AND (? = 0 OR version = ?)`
	updateJobRecordSQL = `UPDATE job_records SET record = ? WHERE name = ?`
	// The engine's writes: its state, with or without an attempt's result.
	updateStateSQL = `UPDATE jobs SET version = version + 1, next_fire = ?, due_time = ?,
	exec_manual = ?, exec_schedule_time = ?, exec_attempts = ?, exec_first_attempt = ?, exec_next_attempt = ?,
	exec_owner = ?, exec_lease_until = ?, exec_claim = ?, schedule_time = ?, ` + setLastSlot + `
	WHERE name = ? AND version = ?`
	updateStateResultSQL = `UPDATE jobs SET version = version + 1, next_fire = ?, due_time = ?,
	exec_manual = ?, exec_schedule_time = ?, exec_attempts = ?, exec_first_attempt = ?, exec_next_attempt = ?,
	exec_owner = ?, exec_lease_until = ?, exec_claim = ?, schedule_time = ?, status = ?, last_attempt_time = ?, ` + setLastSlot + `
	WHERE name = ? AND version = ?`
	// setLastSlot keeps the later of the stored last_slot and its argument,
	// given twice: SQLite's max() of a NULL is NULL, and either may be one.
	setLastSlot = `last_slot = coalesce(max(last_slot, ?), last_slot, ?)`
)

// updateRefused tells why an update changed no row: the job is gone, or its
// version moved. Read on the connection that wrote, so that inside a
// transaction it sees the transaction's own writes.
func (q queries) updateRefused(ctx context.Context, tx *sql.Tx, name string) error {
	st, done := stmtIn(ctx, tx, q.ws.jobVersion)
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
	return q.atomically(ctx, "update job", func(tx *sql.Tx) error {
		// The narrow row first: its version check refuses the write before
		// anything is written.
		st, done := stmtIn(ctx, tx, q.ws.updateJob)
		defer done()
		args := append([]any{r.state, r.schedule, r.timeZone, r.st.nextFire, r.st.due}, r.st.exec.args()...)
		args = append(args, r.st.scheduleTime, r.res.status, r.res.lastAttempt, r.st.lastSlot, r.st.lastSlot,
			r.name, expectVersion, expectVersion)
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("sqlite: update job: %w", err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n == 0 {
			return q.updateRefused(ctx, tx, r.name)
		}
		rst, rdone := stmtIn(ctx, tx, q.ws.updateRecord)
		defer rdone()
		if res, err = rst.ExecContext(ctx, r.record, r.name); err != nil {
			return fmt.Errorf("sqlite: update job: %w", err)
		}
		if n, err := affected(res); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("sqlite: update job %q: its message is missing", r.name)
		}
		return nil
	})
}

// stateRow is a JobState as columns.
type stateRow struct {
	name    string
	version int64
	st      stateCols
	res     *resultCols
}

func (q queries) UpdateJobStates(ctx context.Context, states []store.JobState) ([]int, error) {
	if len(states) == 0 {
		return nil, nil
	}
	// Encode everything first, so that a bad state fails the call before
	// it costs the writer anything.
	rows := make([]stateRow, len(states))
	for i, s := range states {
		r := stateRow{name: s.Name, version: s.Version}
		var err error
		if r.st, err = stateColumns(s.NextFire, s.DueTime, s.ScheduleTime, s.Exec); err != nil {
			return nil, fmt.Errorf("sqlite: job state %d (%q): %w", i, s.Name, err)
		}
		if r.st.lastSlot, err = timeToDB(s.LastSlot); err != nil {
			return nil, fmt.Errorf("sqlite: job state %d (%q): %w", i, s.Name, err)
		}
		if s.Result != nil {
			res, err := resultColumns(s.Result.Status, s.Result.LastAttemptTime)
			if err != nil {
				return nil, fmt.Errorf("sqlite: job state %d (%q): %w", i, s.Name, err)
			}
			r.res = &res
		}
		rows[i] = r
	}
	var refused []int
	err := q.atomically(ctx, "update job states", func(tx *sql.Tx) error {
		refused = refused[:0]
		plain, done := stmtIn(ctx, tx, q.ws.updateState)
		defer done()
		withResult, rdone := stmtIn(ctx, tx, q.ws.updateStateResult)
		defer rdone()
		args := make([]any, 0, 16)
		for i := range rows {
			r := &rows[i]
			args = append(args[:0], intArg(r.st.nextFire), intArg(r.st.due))
			args = r.st.exec.appendValues(args)
			args = append(args, intArg(r.st.scheduleTime))
			stmt := plain
			if r.res != nil {
				stmt = withResult
				args = append(args, r.res.status, intArg(r.res.lastAttempt))
			}
			lastSlot := intArg(r.st.lastSlot)
			args = append(args, lastSlot, lastSlot, r.name, r.version)
			res, err := stmt.ExecContext(ctx, args...)
			if err != nil {
				return fmt.Errorf("sqlite: update job states: job %q: %w", r.name, err)
			}
			n, err := affected(res)
			if err != nil {
				return err
			}
			if n == 0 {
				refused = append(refused, i)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return refused, nil
}

const (
	deleteJobSQL         = `DELETE FROM jobs WHERE name = ? RETURNING version`
	putTombstoneSQL      = `INSERT INTO job_tombstones (name, version) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version`
	deleteJobRecordSQL   = `DELETE FROM job_records WHERE name = ?`
	deleteJobAttemptsSQL = `DELETE FROM attempts WHERE job = ?`
)

func (q queries) DeleteJob(ctx context.Context, name string) error {
	return q.atomically(ctx, "delete job", func(tx *sql.Tx) error {
		// The job first: when it is absent nothing has been written.
		var v int64
		switch err := tx.QueryRowContext(ctx, deleteJobSQL, name).Scan(&v); {
		case errors.Is(err, sql.ErrNoRows):
			return notFound("job", name)
		case err != nil:
			return fmt.Errorf("sqlite: delete job: %w", err)
		}
		// A job created again under the name continues past v.
		if _, err := tx.ExecContext(ctx, putTombstoneSQL, name, v); err != nil {
			return fmt.Errorf("sqlite: delete job %q: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, deleteJobRecordSQL, name); err != nil {
			return fmt.Errorf("sqlite: delete job %q: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, deleteJobAttemptsSQL, name); err != nil {
			return fmt.Errorf("sqlite: delete job %q: its attempts: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, deleteJobManualsSQL, name); err != nil {
			return fmt.Errorf("sqlite: delete job %q: its manual executions: %w", name, err)
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
	return listJobs(ctx, q.r, max(limit, 0), dueJobsSQL, t, rowcodec.Limit(limit))
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
	var err error
	r.start, r.schedule, r.end, err = rowcodec.AttemptTimes(backend, a)
	return r, err
}

// addAttemptSQL inserts an attempt only while its job, or the incarnation
// of it the attempt names, exists (see the contract of AddAttempts); the
// lookup is one probe of the jobs primary key.
const addAttemptSQL = `INSERT INTO attempts (job, schedule_time, manual, number, start_time, end_time, url, http_status, code, message)
	SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM jobs WHERE name = ? AND (? = 0 OR incarnation = ?))`

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
		args := make([]any, 0, 13)
		for _, r := range rows {
			a := r.a
			// The driver's own types (see intArg): an int32 goes through
			// database/sql's reflection and is boxed twice.
			args = append(args[:0], a.Job, intArg(r.schedule), a.Manual, int64(a.Number), r.start, intArg(r.end),
				a.URL, int64(a.HTTPStatus), int64(a.Code), a.Message, a.Job, a.Incarnation, a.Incarnation)
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
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
	n := rowcodec.Limit(limit)
	b, empty := rowcodec.BeforeBound(before)
	if empty {
		return nil, nil
	}
	var (
		rows *sql.Rows
		err  error
	)
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
		a.ScheduleTime = rowcodec.TimeFromDB(schedule)
		a.Start = time.Unix(0, start).UTC()
		a.End = rowcodec.TimeFromDB(end)
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
