package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/rowcodec"
)

// updateStatesSQL writes a set of job states, each only if its job's
// version is the one given, and returns the indexes of the states it
// wrote. The states come as one array per column, so that a batch of the
// engine (up to 512) is one statement and one plan whatever its size: a
// nested loop of primary key probes once the table is of any size
// (TestJobQueryPlans). A pipelined batch of one-row UPDATEs was measured
// slower per state at every batch size.
const updateStatesSQL = `UPDATE jobs AS j SET version = j.version + 1, next_fire = s.next_fire, due_time = s.due_time,
		exec_manual = s.exec_manual, exec_schedule_time = s.exec_schedule_time, exec_attempts = s.exec_attempts,
		exec_first_attempt = s.exec_first_attempt, exec_next_attempt = s.exec_next_attempt,
		exec_owner = s.exec_owner, exec_lease_until = s.exec_lease_until, exec_claim = s.exec_claim,
		schedule_time = s.schedule_time,
		status = CASE WHEN s.has_result THEN s.status ELSE j.status END,
		last_attempt_time = CASE WHEN s.has_result THEN s.last_attempt_time ELSE j.last_attempt_time END,
		last_slot = GREATEST(j.last_slot, s.last_slot)
	FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::boolean[], $6::bigint[], $7::integer[],
			$8::bigint[], $9::bigint[], $10::text[], $11::bigint[], $12::bigint[], $13::boolean[], $14::bytea[],
			$15::bigint[], $16::integer[], $17::bigint[], $18::bigint[])
		AS s(name, version, next_fire, due_time, exec_manual, exec_schedule_time, exec_attempts,
			exec_first_attempt, exec_next_attempt, exec_owner, exec_lease_until, schedule_time, has_result, status,
			last_attempt_time, idx, last_slot, exec_claim)
	WHERE j.name = s.name AND j.version = s.version
	RETURNING s.idx`

// stateArrays are states as updateStatesSQL's arguments.
type stateArrays struct {
	name                                           []string
	version                                        []int64
	nextFire, due                                  []pgtype.Int8
	manual                                         []pgtype.Bool
	schedule, first, next, lease, sched, lastAttem []pgtype.Int8
	attempts                                       []pgtype.Int4
	owner                                          []string
	claim                                          []int64
	hasResult                                      []bool
	status                                         [][]byte
	idx                                            []int32
	lastSlot                                       []pgtype.Int8
}

func (a *stateArrays) add(i int, r *stateRow) {
	a.name = append(a.name, r.name)
	a.version = append(a.version, r.version)
	a.nextFire = append(a.nextFire, r.st.nextFire)
	a.due = append(a.due, r.st.due)
	e := &r.st.exec
	a.manual = append(a.manual, e.manual)
	a.schedule = append(a.schedule, e.schedule)
	a.attempts = append(a.attempts, e.attempts)
	a.first = append(a.first, e.first)
	a.next = append(a.next, e.next)
	a.owner = append(a.owner, e.owner)
	a.lease = append(a.lease, e.lease)
	a.claim = append(a.claim, e.claim)
	a.sched = append(a.sched, r.st.scheduleTime)
	var res resultCols
	if r.res != nil {
		res = *r.res
	}
	a.hasResult = append(a.hasResult, r.res != nil)
	a.status = append(a.status, res.status)
	a.lastAttem = append(a.lastAttem, res.lastAttempt)
	a.idx = append(a.idx, int32(i))
	a.lastSlot = append(a.lastSlot, r.st.lastSlot)
}

func (a *stateArrays) args() []any {
	return []any{a.name, a.version, a.nextFire, a.due, a.manual, a.schedule, a.attempts, a.first, a.next, a.owner,
		a.lease, a.sched, a.hasResult, a.status, a.lastAttem, a.idx, a.lastSlot, a.claim}
}

// stateRounds splits states into rounds in which each job appears once:
// the k-th state of a job goes into round k. One UPDATE changes a row at
// most once however often the FROM list names it, and states apply in
// order (a second state of a job expects the version the first made), so
// the rounds run one after the other.
func stateRounds(rows []stateRow) []stateArrays {
	seen := make(map[string]int, len(rows))
	var rounds []stateArrays
	for i := range rows {
		k := seen[rows[i].name]
		seen[rows[i].name] = k + 1
		if k == len(rounds) {
			rounds = append(rounds, stateArrays{})
		}
		rounds[k].add(i, &rows[i])
	}
	return rounds
}

// writeStates sends the rounds as one batch, which PostgreSQL runs as one
// implicit transaction when db is the pool, and returns the indexes of
// the states it did not write, ascending.
func writeStates(ctx context.Context, db querier, rounds []stateArrays, n int) ([]int, error) {
	b := &pgx.Batch{}
	for i := range rounds {
		b.Queue(updateStatesSQL, rounds[i].args()...)
	}
	br := db.SendBatch(ctx, b)
	written := make([]bool, n)
	for range rounds {
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return nil, err
		}
		idx, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			br.Close()
			return nil, err
		}
		for _, i := range idx {
			written[i] = true
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	var refused []int
	for i, w := range written {
		if !w {
			refused = append(refused, i)
		}
	}
	return refused, nil
}

func (q queries) UpdateJobStates(ctx context.Context, states []store.JobState) ([]int, error) {
	if len(states) == 0 {
		return nil, nil
	}
	// Encode everything first, so that a bad state fails the call before
	// anything is sent.
	rows := make([]stateRow, len(states))
	for i, s := range states {
		r, err := stateRowOf(s)
		if err != nil {
			return nil, fmt.Errorf("postgres: job state %d (%q): %w", i, s.Name, err)
		}
		rows[i] = r
	}
	rounds := stateRounds(rows)
	var refused []int
	err := q.run(ctx, func() error {
		var err error
		refused, err = writeStates(ctx, q.db, rounds, len(rows))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: update job states: %w", err)
	}
	return refused, nil
}

// ---- Attempts ----

// attemptArrays are attempts as addAttemptsSQL's arguments.
type attemptArrays struct {
	job              []string
	schedule, end    []pgtype.Int8
	manual           []bool
	number           []int32
	start            []int64
	url, message     []string
	httpStatus, code []int32
	incarnation      []int64
}

func (a *attemptArrays) add(at store.Attempt) error {
	start, sched, end, err := rowcodec.AttemptTimes(backend, at)
	if err != nil {
		return err
	}
	a.job = append(a.job, at.Job)
	a.schedule = append(a.schedule, pgtype.Int8(sched))
	a.manual = append(a.manual, at.Manual)
	a.number = append(a.number, at.Number)
	a.start = append(a.start, start)
	a.end = append(a.end, pgtype.Int8(end))
	a.url = append(a.url, pgText(at.URL))
	a.httpStatus = append(a.httpStatus, at.HTTPStatus)
	a.code = append(a.code, at.Code)
	a.message = append(a.message, pgText(at.Message))
	a.incarnation = append(a.incarnation, at.Incarnation)
	return nil
}

// addAttemptsSQL inserts a batch of attempts in one statement, each only
// while its job, or the incarnation of it the attempt names, exists (see
// the contract of AddAttempts); the lookup is one probe of the jobs
// primary key per attempt. ORDER BY keeps the batch's order in the ids,
// which break ties of Start and number (the later added first).
const addAttemptsSQL = `INSERT INTO attempts (job, schedule_time, manual, number, start_time, end_time, url, http_status, code, message)
	SELECT a.job, a.schedule_time, a.manual, a.number, a.start_time, a.end_time, a.url, a.http_status, a.code, a.message
	FROM unnest($1::text[], $2::bigint[], $3::boolean[], $4::integer[], $5::bigint[], $6::bigint[], $7::text[],
			$8::integer[], $9::integer[], $10::text[], $11::bigint[]) WITH ORDINALITY
		AS a(job, schedule_time, manual, number, start_time, end_time, url, http_status, code, message, incarnation, idx)
	WHERE EXISTS (SELECT 1 FROM jobs AS j WHERE j.name = a.job AND (a.incarnation = 0 OR j.incarnation = a.incarnation))
	ORDER BY a.idx`

func (q queries) AddAttempts(ctx context.Context, as []store.Attempt) error {
	if len(as) == 0 {
		return nil
	}
	var a attemptArrays
	for _, at := range as {
		if err := a.add(at); err != nil {
			return err
		}
	}
	_, err := q.exec(ctx, "add attempts", addAttemptsSQL, a.job, a.schedule, a.manual, a.number, a.start, a.end,
		a.url, a.httpStatus, a.code, a.message, a.incarnation)
	return err
}

// Two queries rather than one with an optional bound, so that each is a
// plain range of the index attempts_job_newest, read in its order.
const (
	attemptSelect         = `SELECT job, schedule_time, manual, number, start_time, end_time, url, http_status, code, message FROM attempts`
	attemptOrder          = ` ORDER BY start_time DESC, number DESC, id DESC LIMIT `
	listAttemptsSQL       = attemptSelect + ` WHERE job = $1` + attemptOrder + `$2`
	listAttemptsBeforeSQL = attemptSelect + ` WHERE job = $1 AND start_time < $3` + attemptOrder + `$2`
)

func (q queries) ListAttempts(ctx context.Context, job string, limit int, before time.Time) ([]store.Attempt, error) {
	n := rowcodec.Limit(limit)
	b, empty := rowcodec.BeforeBound(before)
	if empty || !storableKey(job) {
		return nil, nil
	}
	query, args := listAttemptsSQL, []any{job, n}
	if b.Valid {
		query, args = listAttemptsBeforeSQL, append(args, b)
	}
	var out []store.Attempt
	err := q.run(ctx, func() error {
		out = nil
		rows, err := q.db.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				a             store.Attempt
				schedule, end pgtype.Int8
				start         int64
			)
			if err := rows.Scan(&a.Job, &schedule, &a.Manual, &a.Number, &start, &end,
				&a.URL, &a.HTTPStatus, &a.Code, &a.Message); err != nil {
				return err
			}
			a.ScheduleTime = timeFromDB(schedule)
			a.Start = time.Unix(0, start).UTC()
			a.End = timeFromDB(end)
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list attempts: %w", err)
	}
	return out, nil
}

const trimAttemptsSQL = `DELETE FROM attempts WHERE id IN (
	SELECT id FROM (
		SELECT id, row_number() OVER (PARTITION BY job ORDER BY start_time DESC, number DESC, id DESC) AS newest
		FROM attempts
	) AS ranked WHERE newest > $1)`

func (q queries) TrimAttempts(ctx context.Context, keep int) (int64, error) {
	if keep < 0 {
		return 0, fmt.Errorf("postgres: trim attempts: keep %d is negative", keep)
	}
	// One statement, so it is atomic outside InTx too; the ranking is
	// ListAttempts' order.
	return q.exec(ctx, "trim attempts", trimAttemptsSQL, keep)
}

// pgText makes a string from outside (an attempt's URL, the message that
// carries a target's denial header) storable as PostgreSQL text, which
// refuses NUL and invalid UTF-8: one such attempt would otherwise fail its
// whole batch, again and again. SQLite stores the bytes as they are.
func pgText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}
