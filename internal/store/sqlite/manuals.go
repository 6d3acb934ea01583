package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/rowcodec"
)

// ---- RunJob's executions (0007_manual_executions.sql) ----
//
// Written once per RunJob and once per attempt of one: a human's pace, so
// the statements are not among the writer's prepared ones.

const (
	// addManualSQL inserts the execution only while its job's incarnation
	// exists: one probe of the jobs primary key.
	addManualSQL = `INSERT INTO manual_executions (job, incarnation, schedule_time, attempts, first_attempt, next_attempt, lease_until, owner, claim)
	SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM jobs WHERE name = ? AND incarnation = ?) RETURNING id`
	updateManualSQL = `UPDATE manual_executions SET schedule_time = ?, attempts = ?, first_attempt = ?, next_attempt = ?, lease_until = ?,
	owner = ?, claim = ? WHERE id = ? AND claim = ?`
	deleteManualSQL     = `DELETE FROM manual_executions WHERE id = ? AND claim = ?`
	listManualsSQL      = `SELECT id, job, incarnation, schedule_time, attempts, first_attempt, next_attempt, lease_until, owner, claim FROM manual_executions ORDER BY id`
	deleteJobManualsSQL = `DELETE FROM manual_executions WHERE job = ?`
)

// manualArgs are the columns an execution's writes set, from schedule_time
// to claim, in the order of addManualSQL and updateManualSQL.
func manualArgs(e *store.Execution) ([]any, error) {
	c, err := execColumns(e)
	if err != nil {
		return nil, err
	}
	return []any{intArg(c.schedule), int64(e.Attempts), intArg(c.first), intArg(c.next), intArg(c.leaseUntil), e.Owner, e.Claim}, nil
}

func (q queries) AddManual(ctx context.Context, m store.Manual) (int64, error) {
	args, err := manualArgs(&m.Exec)
	if err != nil {
		return 0, fmt.Errorf("sqlite: add manual execution of job %q: %w", m.Job, err)
	}
	args = append(append([]any{m.Job, m.Incarnation}, args...), m.Job, m.Incarnation)
	var id int64
	switch err := q.w.QueryRowContext(ctx, addManualSQL, args...).Scan(&id); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, notFound("job", m.Job)
	case err != nil:
		return 0, fmt.Errorf("sqlite: add manual execution of job %q: %w", m.Job, err)
	}
	return id, nil
}

func (q queries) UpdateManuals(ctx context.Context, ws []store.ManualWrite) ([]int, error) {
	if len(ws) == 0 {
		return nil, nil
	}
	args := make([][]any, len(ws))
	for i, w := range ws {
		if w.Exec == nil {
			args[i] = []any{w.ID, w.Claim}
			continue
		}
		a, err := manualArgs(w.Exec)
		if err != nil {
			return nil, fmt.Errorf("sqlite: update manual execution %d: %w", w.ID, err)
		}
		args[i] = append(a, w.ID, w.Claim)
	}
	var refused []int
	err := q.atomically(ctx, "update manual executions", func(tx *sql.Tx) error {
		refused = refused[:0]
		for i, w := range ws {
			query := updateManualSQL
			if w.Exec == nil {
				query = deleteManualSQL
			}
			res, err := tx.ExecContext(ctx, query, args[i]...)
			if err != nil {
				return fmt.Errorf("sqlite: update manual execution %d: %w", w.ID, err)
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

func (q queries) ListManuals(ctx context.Context) ([]store.Manual, error) {
	rows, err := q.r.QueryContext(ctx, listManualsSQL)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list manual executions: %w", err)
	}
	defer rows.Close()
	var out []store.Manual
	for rows.Next() {
		var (
			m                         store.Manual
			schedule, first, next, lu sql.NullInt64
		)
		if err := rows.Scan(&m.ID, &m.Job, &m.Incarnation, &schedule, &m.Exec.Attempts, &first, &next, &lu, &m.Exec.Owner, &m.Exec.Claim); err != nil {
			return nil, fmt.Errorf("sqlite: list manual executions: %w", err)
		}
		m.Exec.Manual = true
		m.Exec.ScheduleTime, m.Exec.FirstAttempt = rowcodec.TimeFromDB(schedule), rowcodec.TimeFromDB(first)
		m.Exec.NextAttempt, m.Exec.LeaseUntil = rowcodec.TimeFromDB(next), rowcodec.TimeFromDB(lu)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list manual executions: %w", err)
	}
	return out, nil
}
