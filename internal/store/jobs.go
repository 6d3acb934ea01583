package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
)

// Cloud Scheduler's records. The engine's state of a job lives on the job's
// row beside the Job message, so that claiming a slot, advancing the next
// fire time and recording the execution in flight are one row write.
//
// Tx embeds JobStore: every backend and every transaction has it.
type JobStore interface {
	// CreateJob inserts a job; ErrAlreadyExists if the name is taken. The
	// stored Version is 1 (the first write), whatever j.Version holds.
	CreateJob(ctx context.Context, j JobRecord) error
	// GetJob returns the job named name ("projects/P/locations/L/jobs/J").
	GetJob(ctx context.Context, name string) (JobRecord, error)
	// ListJobs lists one project's jobs in one location, by name.
	ListJobs(ctx context.Context, projectID, location string, page Page) ([]JobRecord, error)
	// ScanJobs lists every job of every project, by name (the engine's load at start).
	ScanJobs(ctx context.Context, page Page) ([]JobRecord, error)
	// UpdateJob replaces a job; ErrNotFound if it does not exist. When
	// expectVersion is non-zero the stored Version must equal it, else
	// ErrVersionMismatch and nothing is written. The stored Version becomes
	// the old one plus one.
	UpdateJob(ctx context.Context, j JobRecord, expectVersion int64) error
	// UpdateJobs applies several UpdateJob calls in one statement batch
	// (the engine's batched writes), in order, each with expectVersion
	// js[i].Version. The first refused record fails the whole batch with
	// nothing of it written, also inside InTx (where the transaction's
	// other writes stay and it may go on); the error is a *BatchError
	// naming the record, wrapping ErrNotFound or ErrVersionMismatch.
	UpdateJobs(ctx context.Context, js []JobRecord) error
	// DeleteJob removes a job and its attempt history; ErrNotFound.
	DeleteJob(ctx context.Context, name string) error
	// DueJobs returns up to limit jobs whose DueTime is set and <= at, by
	// DueTime then name; limit <= 0 means no limit.
	DueJobs(ctx context.Context, at time.Time, limit int) ([]JobRecord, error)

	// AddAttempts records finished attempts (each with a Start), all or
	// none. An attempt of a job that does not exist (deleted while the
	// attempt ran) is dropped without error: one deletion must not fail the
	// engine's batch, and a job created again under the name must not
	// inherit the history of the deleted one.
	AddAttempts(ctx context.Context, as []Attempt) error
	// ListAttempts returns a job's attempts, newest first (by Start, then
	// attempt number, then the later added first), at most limit of
	// them (limit <= 0: all), only those whose Start is strictly before
	// before unless before is zero. An unknown job has none: no error.
	ListAttempts(ctx context.Context, job string, limit int, before time.Time) ([]Attempt, error)
	// TrimAttempts keeps the newest keep (>= 0) attempts of every job, in
	// ListAttempts' order, and deletes the rest.
	TrimAttempts(ctx context.Context, keep int) (deleted int64, err error)
}

// ErrVersionMismatch is returned by UpdateJob when the job changed since it
// was read.
var ErrVersionMismatch = errVersionMismatch{}

type errVersionMismatch struct{}

func (errVersionMismatch) Error() string { return "store: version mismatch" }

// BatchError is the error of a batch write (UpdateJobs) refused at one
// record, so that the engine can drop or reload that job and write the
// rest again. Err is ErrNotFound or ErrVersionMismatch (errors.Is sees
// through a BatchError).
type BatchError struct {
	Index int    // of the refused record in the batch
	Name  string // its job name
	Err   error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("batch record %d, job %q: %v", e.Index, e.Name, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// JobRecord is a job as the API shows it plus the engine's state of it.
type JobRecord struct {
	Job *schedulerpb.Job
	// Version counts writes, for optimistic concurrency between the API and
	// the engine.
	Version int64
	// NextFire is the next slot of the schedule the engine will fire (zero
	// when the job is paused or can never fire again).
	NextFire time.Time
	// DueTime is when the engine must next act on the job: the next slot,
	// or the next attempt of the execution in flight; zero when nothing is
	// due. Indexed: DueJobs reads it.
	DueTime time.Time
	// Exec is the scheduled execution in flight, if any. It is written
	// before the first attempt is sent, so that after a crash the attempt is
	// tried again with the same schedule time.
	Exec *Execution
}

// Execution is one scheduled (or forced) run of a job and its retries.
type Execution struct {
	ScheduleTime time.Time // the slot; X-CloudScheduler-ScheduleTime on every attempt
	Manual       bool      // started by RunJob
	Attempts     int32     // attempts made so far
	FirstAttempt time.Time // start of the first attempt (max_retry_duration counts from it)
	NextAttempt  time.Time // when the next attempt is due
	// Owner and LeaseUntil let replicas sharing a database take over an
	// execution whose replica died (a later issue); empty on one replica.
	Owner      string
	LeaseUntil time.Time
}

// Attempt is one finished HTTP attempt of a job.
type Attempt struct {
	Job          string
	ScheduleTime time.Time
	Manual       bool
	Number       int32 // 1 for the first attempt of an execution
	Start, End   time.Time
	URL          string
	HTTPStatus   int32  // 0 when no response arrived
	Code         int32  // google.rpc.Code of the outcome (0 = OK)
	Message      string // the reason, with the HTTP status and any gateway denial reason
}
