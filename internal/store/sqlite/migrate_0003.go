package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"github.com/oidcron/oidcron/internal/store/rowcodec"
)

// moveJobs0002 is the Go step of 0003_job_state.sql: it moves every job of
// 0002's table (renamed jobs_0002) into the two new tables, decoding its
// message for the fields the narrow row copies, then drops the old table.
// Each job keeps its version and becomes incarnation 1 (every name of 0002
// was created at version 1; an earlier job of the name is gone).
func moveJobs0002(ctx context.Context, tx *sql.Tx) error {
	// In pages, so that a large table is not held in memory at once.
	for after := ""; ; {
		all, err := readJobs0002(ctx, tx, after)
		if err != nil {
			return err
		}
		if len(all) == 0 {
			break
		}
		for _, o := range all {
			if err := moveJob0002(ctx, tx, o); err != nil {
				return err
			}
		}
		after = all[len(all)-1].name
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE jobs_0002`); err != nil {
		return fmt.Errorf("drop the jobs of 0002: %w", err)
	}
	return nil
}

// insertJob0003SQL inserts a job into 0003's jobs table. A step writes the
// schema of its own version: the columns later migrations add (last_slot,
// 0004; exec_claim, 0005) do not exist yet when it runs.
const insertJob0003SQL = `INSERT INTO jobs (name, project_id, location, incarnation, version, state, schedule, time_zone,
	next_fire, due_time, ` + execColumnList0002 + `, schedule_time, status, last_attempt_time)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`

// execColumnList0002 is the execution's columns in the schemas of 0002 and
// 0003, in the order of execCols.args0002 and dests0002.
const execColumnList0002 = `exec_manual, exec_schedule_time, exec_attempts, exec_first_attempt, exec_next_attempt, exec_owner, exec_lease_until`

func (c *execCols) args0002() []any {
	return []any{c.manual, c.schedule, c.attempts, c.first, c.next, c.owner, c.leaseUntil}
}

func (c *execCols) dests0002() []any {
	return []any{&c.manual, &c.schedule, &c.attempts, &c.first, &c.next, &c.owner, &c.leaseUntil}
}

// job0002 is a row of 0002's jobs table.
type job0002 struct {
	name          string
	version       int64
	nextFire, due sql.NullInt64
	exec          execCols
	record        []byte
}

func readJobs0002(ctx context.Context, tx *sql.Tx, after string) ([]job0002, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, version, next_fire, due_time, `+execColumnList0002+`, record
		FROM jobs_0002 WHERE name > ? ORDER BY name LIMIT 10000`, after)
	if err != nil {
		return nil, fmt.Errorf("read the jobs of 0002: %w", err)
	}
	defer rows.Close()
	var all []job0002
	for rows.Next() {
		var o job0002
		dest := append([]any{&o.name, &o.version, &o.nextFire, &o.due}, o.exec.dests0002()...)
		if err := rows.Scan(append(dest, &o.record)...); err != nil {
			return nil, fmt.Errorf("read the jobs of 0002: %w", err)
		}
		all = append(all, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the jobs of 0002: %w", err)
	}
	return all, nil
}

func moveJob0002(ctx context.Context, tx *sql.Tx, o job0002) error {
	job, err := decode("job", o.record, &schedulerpb.Job{})
	if err != nil {
		return err
	}
	r := jobRow{name: o.name, state: int32(job.GetState()), schedule: job.GetSchedule(), timeZone: job.GetTimeZone(),
		st: stateCols{nextFire: o.nextFire, due: o.due, exec: o.exec}, record: o.record}
	if r.project, r.location, err = rowcodec.JobKey(backend, r.name); err != nil {
		return err
	}
	if r.st.scheduleTime, err = timeToDB(rowcodec.TimeOf(job.GetScheduleTime())); err != nil {
		return fmt.Errorf("job %q: %w", r.name, err)
	}
	if r.res, err = resultColumns(job.GetStatus(), rowcodec.TimeOf(job.GetLastAttemptTime())); err != nil {
		return fmt.Errorf("job %q: %w", r.name, err)
	}
	args := append([]any{r.name, r.project, r.location, int64(1), o.version, r.state, r.schedule, r.timeZone, r.st.nextFire, r.st.due},
		r.st.exec.args0002()...)
	args = append(args, r.st.scheduleTime, r.res.status, r.res.lastAttempt)
	if _, err := tx.ExecContext(ctx, insertJob0003SQL, args...); err != nil {
		return fmt.Errorf("job %q: %w", r.name, err)
	}
	if _, err := tx.ExecContext(ctx, createJobRecordSQL, r.name, r.record); err != nil {
		return fmt.Errorf("job %q: %w", r.name, err)
	}
	return nil
}
