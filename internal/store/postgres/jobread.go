package postgres

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/oidcron/oidcron/internal/store"
)

// jobSelect is what every read of whole records selects, in
// scannedJob.dests' order; each jobs row finds its message by name.
const jobSelect = `SELECT j.name, j.incarnation, j.version, j.next_fire, j.due_time,
	j.exec_manual, j.exec_schedule_time, j.exec_attempts, j.exec_first_attempt, j.exec_next_attempt, j.exec_owner, j.exec_lease_until,
	j.exec_claim, j.status, j.last_attempt_time, j.schedule_time, j.last_slot, r.record
	FROM jobs AS j JOIN job_records AS r ON r.name = j.name`

// scannedJob is a job's rows as read, its message not yet decoded.
type scannedJob struct {
	name                 string
	incarnation, version int64
	nextFire, due        pgtype.Int8
	exec                 execCols
	status               []byte // nil: NULL
	lastAttempt, sched   pgtype.Int8
	lastSlot             pgtype.Int8
	record               []byte
}

func (j *scannedJob) dests() []any {
	return []any{&j.name, &j.incarnation, &j.version, &j.nextFire, &j.due,
		&j.exec.manual, &j.exec.schedule, &j.exec.attempts, &j.exec.first, &j.exec.next, &j.exec.owner, &j.exec.lease,
		&j.exec.claim, &j.status, &j.lastAttempt, &j.sched, &j.lastSlot, &j.record}
}

// decode turns a scanned row into the record; it touches nothing shared,
// so rows can be decoded on several goroutines.
func (j *scannedJob) decode() (store.JobRecord, error) {
	job, err := decode("job", j.record, &schedulerpb.Job{})
	if err != nil {
		return store.JobRecord{}, err
	}
	// The engine's output fields are the columns', not the message's copies.
	job.Status = nil
	if j.status != nil {
		if job.Status, err = decode("job status", j.status, &statuspb.Status{}); err != nil {
			return store.JobRecord{}, err
		}
	}
	job.LastAttemptTime = timestampFromDB(j.lastAttempt)
	job.ScheduleTime = timestampFromDB(j.sched)
	return store.JobRecord{Job: job, Version: j.version, Incarnation: j.incarnation,
		NextFire: timeFromDB(j.nextFire), DueTime: timeFromDB(j.due), Exec: j.exec.exec(), LastSlot: timeFromDB(j.lastSlot)}, nil
}

// scanJobs reads every row of rows (jobSelect's columns) and closes it.
func scanJobs(rows pgx.Rows) ([]scannedJob, error) {
	defer rows.Close()
	var out []scannedJob
	for rows.Next() {
		out = append(out, scannedJob{})
		if err := rows.Scan(out[len(out)-1].dests()...); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// decodeChunk is how many rows one goroutine decodes at once: decoding a
// Job message costs about as much as reading its rows, so a large result
// (ScanJobs, a page of ListJobs) is decoded on every core; a small one
// never leaves the caller's goroutine.
const decodeChunk = 256

// decodeJobs decodes scanned rows, in order.
func decodeJobs(sc []scannedJob) ([]store.JobRecord, error) {
	out := make([]store.JobRecord, len(sc))
	chunks := (len(sc) + decodeChunk - 1) / decodeChunk
	errs := make([]error, chunks)
	work := func(c int) {
		for i := c * decodeChunk; i < min((c+1)*decodeChunk, len(sc)); i++ {
			var err error
			if out[i], err = sc[i].decode(); err != nil {
				errs[c] = err
				return
			}
		}
	}
	if workers := min(chunks, runtime.GOMAXPROCS(0)); workers <= 1 {
		for c := range chunks {
			work(c)
		}
	} else {
		next := make(chan int, chunks)
		for c := range chunks {
			next <- c
		}
		close(next)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for c := range next {
					work(c)
				}
			})
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// listJobs runs a query selecting jobSelect's columns and returns its rows
// as records, in order.
func (q queries) listJobs(ctx context.Context, what, query string, args ...any) ([]store.JobRecord, error) {
	var sc []scannedJob
	err := q.run(ctx, func() error {
		rows, err := q.db.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		sc, err = scanJobs(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return decodeJobs(sc)
}
