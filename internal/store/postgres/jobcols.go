package postgres

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/rowcodec"
)

// A job is two rows (migrations/0001_init.sql): its narrow row in jobs
// (key, version, the Job fields the engine acts on, the engine's state, and
// the output fields the engine writes) and its Job message in job_records.
// This file turns records into those columns and back.

// execCols is a JobRecord's Exec as columns: manual is NULL exactly when
// Exec is nil, and owner is "" and claim 0 then.
type execCols struct {
	manual                       pgtype.Bool
	schedule, first, next, lease pgtype.Int8
	attempts                     pgtype.Int4
	owner                        string
	claim                        int64
}

func execColumns(e *store.Execution) (execCols, error) {
	var c execCols
	if e == nil {
		return c, nil
	}
	c.manual = pgtype.Bool{Bool: e.Manual, Valid: true}
	c.attempts = pgtype.Int4{Int32: e.Attempts, Valid: true}
	c.owner, c.claim = e.Owner, e.Claim
	for _, tm := range []struct {
		t   time.Time
		dst *pgtype.Int8
	}{{e.ScheduleTime, &c.schedule}, {e.FirstAttempt, &c.first}, {e.NextAttempt, &c.next}, {e.LeaseUntil, &c.lease}} {
		var err error
		if *tm.dst, err = timeToDB(tm.t); err != nil {
			return c, err
		}
	}
	return c, nil
}

// execColumnList is execCols' columns in the order of args and dests.
const execColumnList = `exec_manual, exec_schedule_time, exec_attempts, exec_first_attempt, exec_next_attempt, exec_owner, exec_lease_until, exec_claim`

func (c *execCols) args() []any {
	return []any{c.manual, c.schedule, c.attempts, c.first, c.next, c.owner, c.lease, c.claim}
}

func (c *execCols) dests() []any {
	return []any{&c.manual, &c.schedule, &c.attempts, &c.first, &c.next, &c.owner, &c.lease, &c.claim}
}

func (c *execCols) exec() *store.Execution {
	if !c.manual.Valid {
		return nil
	}
	return &store.Execution{
		ScheduleTime: timeFromDB(c.schedule),
		Manual:       c.manual.Bool,
		Attempts:     c.attempts.Int32,
		FirstAttempt: timeFromDB(c.first),
		NextAttempt:  timeFromDB(c.next),
		Owner:        c.owner,
		LeaseUntil:   timeFromDB(c.lease),
		Claim:        c.claim,
	}
}

// stateCols are the engine's columns that every write of a job sets;
// lastSlot only ever moves forward (the later of the stored and this).
type stateCols struct {
	nextFire, due pgtype.Int8
	exec          execCols
	scheduleTime  pgtype.Int8
	lastSlot      pgtype.Int8
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
	status      []byte // nil: NULL (no status); an OK status is an empty bytea
	lastAttempt pgtype.Int8
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
	name               string
	state              int32
	schedule, timeZone string
	st                 stateCols
	res                resultCols
	record             []byte
}

func jobColumns(j store.JobRecord) (jobRow, error) {
	var r jobRow
	if j.Job == nil {
		return r, errors.New("postgres: job record without a Job")
	}
	job := j.Job
	r.name = job.GetName()
	// ListJobs relies on the key's check: no '/' in P or L.
	if _, _, err := rowcodec.JobKey(backend, r.name); err != nil {
		return r, err
	}
	r.state, r.schedule, r.timeZone = int32(job.GetState()), job.GetSchedule(), job.GetTimeZone()
	var err error
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
	// are what a read shows for those (scannedJob.decode).
	r.record, err = encode("job", job)
	return r, err
}

// stateRow is a JobState as columns.
type stateRow struct {
	name    string
	version int64
	st      stateCols
	res     *resultCols // nil: the result is left as stored
}

func stateRowOf(s store.JobState) (stateRow, error) {
	r := stateRow{name: s.Name, version: s.Version}
	var err error
	if r.st, err = stateColumns(s.NextFire, s.DueTime, s.ScheduleTime, s.Exec); err != nil {
		return r, err
	}
	if r.st.lastSlot, err = timeToDB(s.LastSlot); err != nil {
		return r, err
	}
	if s.Result != nil {
		res, err := resultColumns(s.Result.Status, s.Result.LastAttemptTime)
		if err != nil {
			return r, err
		}
		r.res = &res
	}
	return r, nil
}
