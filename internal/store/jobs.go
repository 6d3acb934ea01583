package store

import (
	"context"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
)

// Cloud Scheduler's records. The engine's state of a job lives beside the
// Job message, in a small part of the job's record that the engine reads
// whole at start (ScanJobHeads) and writes on every dispatch
// (UpdateJobStates) without the Job message: claiming a slot, advancing the
// next fire time, recording the execution in flight and the outcome of an
// attempt are one small write.
//
// Versions and incarnations. Every write of a job makes its Version larger,
// and a job created again under a deleted job's name continues past the
// deleted one's versions: a Version read from one job never matches
// another that had the name before or after it, so a write checked against
// a stale Version is refused even across a delete and re-create. Each
// creation is one incarnation of the name, identified by Incarnation (the
// Version it was created with); the engine tags its attempts with it so
// that an attempt of a deleted job never joins the history of its successor.
//
// Tx embeds JobStore: every backend and every transaction has it.
type JobStore interface {
	// CreateJob inserts a job; ErrAlreadyExists if the name is taken. The
	// stored Version and Incarnation are 1 for a name never used, else one
	// more than the last Version of the job deleted under the name, whatever
	// j.Version and j.Incarnation hold.
	CreateJob(ctx context.Context, j JobRecord) error
	// GetJob returns the job named name ("projects/P/locations/L/jobs/J").
	GetJob(ctx context.Context, name string) (JobRecord, error)
	// GetJobs returns those of the named jobs that exist, by name, each
	// once (the engine's read of the jobs a burst dispatches).
	GetJobs(ctx context.Context, names []string) ([]JobRecord, error)
	// ListJobs lists one project's jobs in one location, by name.
	ListJobs(ctx context.Context, projectID, location string, page Page) ([]JobRecord, error)
	// ScanJobs lists every job of every project, by name.
	ScanJobs(ctx context.Context, page Page) ([]JobRecord, error)
	// ScanJobHeads lists every job of every project, by name, without its
	// Job message (the engine's load at start).
	ScanJobHeads(ctx context.Context, page Page) ([]JobHead, error)
	// UpdateJob replaces a job; ErrNotFound if it does not exist. When
	// expectVersion is non-zero the stored Version must equal it, else
	// ErrVersionMismatch and nothing is written. The stored Version becomes
	// the old one plus one; the Incarnation is kept (j.Incarnation is
	// ignored), and so is a LastSlot later than j's (see JobRecord).
	UpdateJob(ctx context.Context, j JobRecord, expectVersion int64) error
	// UpdateJobStates writes the engine's state of several jobs (the
	// engine's batched writes), each only if the job's stored Version is
	// still s.Version, which it then makes one larger; the Job message and
	// the rest of the record are left as they are. It returns the indexes,
	// ascending, of the states it refused (the job is gone or was written
	// since); the others are written, also when some are refused. An error
	// is a failure of the store: inside InTx the transaction must then be
	// rolled back; outside it nothing was written.
	UpdateJobStates(ctx context.Context, states []JobState) (refused []int, err error)
	// DeleteJob removes a job, its attempt history and its manual
	// executions; ErrNotFound.
	DeleteJob(ctx context.Context, name string) error
	// DueJobs returns up to limit jobs whose DueTime is set and <= at, by
	// DueTime then name; limit <= 0 means no limit.
	DueJobs(ctx context.Context, at time.Time, limit int) ([]JobRecord, error)

	// AddAttempts records finished attempts (each with a Start), all or
	// none. An attempt of a job that does not exist (deleted while the
	// attempt ran), or whose Incarnation is set and is not the stored
	// job's (deleted and created again), is dropped without error: one
	// deletion must not fail the engine's batch, and a job created again
	// under the name must not inherit the history of the deleted one.
	AddAttempts(ctx context.Context, as []Attempt) error
	// ListAttempts returns a job's attempts, newest first (by Start, then
	// attempt number, then the later added first), at most limit of
	// them (limit <= 0: all), only those whose Start is strictly before
	// before unless before is zero. An unknown job has none: no error.
	ListAttempts(ctx context.Context, job string, limit int, before time.Time) ([]Attempt, error)
	// TrimAttempts keeps the newest keep (>= 0) attempts of every job, in
	// ListAttempts' order, and deletes the rest.
	TrimAttempts(ctx context.Context, keep int) (deleted int64, err error)

	// AddManual stores a RunJob execution (manuals.go) of the job m.Job,
	// which must exist with the incarnation m.Incarnation, else
	// ErrNotFound and nothing is written. m.ID is ignored: the new ID is
	// returned.
	AddManual(ctx context.Context, m Manual) (id int64, err error)
	// UpdateManuals makes each write, in order, if its execution exists
	// and its stored Exec.Claim is the write's Claim; it returns the
	// indexes, ascending, of the writes it refused (the others are made,
	// also when some are refused). An error is a failure of the store, as
	// for UpdateJobStates.
	UpdateManuals(ctx context.Context, ws []ManualWrite) (refused []int, err error)
	// ListManuals returns every stored manual execution, by ID.
	ListManuals(ctx context.Context) ([]Manual, error)
}

// ErrVersionMismatch is returned by UpdateJob when the job changed since it
// was read.
var ErrVersionMismatch = errVersionMismatch{}

type errVersionMismatch struct{}

func (errVersionMismatch) Error() string { return "store: version mismatch" }

// JobRecord is a job as the API shows it plus the engine's state of it.
type JobRecord struct {
	Job *schedulerpb.Job
	// Version counts writes, for optimistic concurrency between the API and
	// the engine; never reused under one name (see JobStore).
	Version int64
	// Incarnation identifies this creation of the job name: the Version
	// CreateJob gave it. Set by the store; ignored when written.
	Incarnation int64
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
	// LastSlot is the latest slot of the schedule an engine has fired
	// (claimed for a scheduled execution; RunJob's executions do not count),
	// zero before the first. It is a floor for every clock that schedules
	// the job: a clock behind the one that fired it (another replica's, or
	// this process's stepped back) must not choose that slot, or an earlier
	// one, again. So no slot at or before it fires, and NextFire is computed
	// from it when it is later than now. It never moves back: a write
	// (UpdateJob, UpdateJobStates, a claim) whose LastSlot is earlier than
	// the stored one, zero included, keeps the stored one. CreateJob stores
	// it as given.
	LastSlot time.Time
}

// JobHead is a job without its Job message: what the engine keeps of every
// job in memory.
type JobHead struct {
	Name        string
	Version     int64
	Incarnation int64
	// The Job's state, schedule and time_zone.
	State              schedulerpb.Job_State
	Schedule, TimeZone string
	NextFire           time.Time
	Exec               *Execution
	LastSlot           time.Time
}

// JobState is the engine's part of a job's record, which UpdateJobStates
// writes without the Job message.
type JobState struct {
	Name string
	// Version is the stored Version the engine last saw; the write is
	// refused if the job has been written (or deleted) since.
	Version           int64
	NextFire, DueTime time.Time
	Exec              *Execution
	// ScheduleTime is the Job's output field schedule_time (zero: unset).
	ScheduleTime time.Time
	// Result, when set, replaces the Job's status and last_attempt_time
	// (an attempt ended); nil leaves them as stored.
	Result *JobResult
	// LastSlot, when later than the stored JobRecord.LastSlot, replaces it:
	// the claim of a scheduled slot sets it to that slot, in the write
	// that claims it. Zero (every other write) leaves it as stored.
	LastSlot time.Time
}

// JobResult is the outcome of a job's last attempt, as its Job shows it.
type JobResult struct {
	Status          *statuspb.Status
	LastAttemptTime time.Time
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
	// Claim identifies the claim that set Owner; a new one on every claim.
	// A replica's late outcome of an earlier claim of the same execution
	// (same owner, schedule time and attempt count, after its heartbeat
	// lapsed twice) is told from the current claim by it. 0 when no claim
	// set one (a single Engine, an execution without an owner).
	Claim int64
}

// Attempt is one finished HTTP attempt of a job.
type Attempt struct {
	Job string
	// Incarnation, when non-zero, is the JobRecord.Incarnation of the job
	// the attempt was made for; AddAttempts drops the attempt if the job
	// stored under the name is another one. Not stored: ListAttempts
	// returns zero.
	Incarnation  int64
	ScheduleTime time.Time
	Manual       bool
	Number       int32 // 1 for the first attempt of an execution
	Start, End   time.Time
	URL          string
	HTTPStatus   int32  // 0 when no response arrived
	Code         int32  // google.rpc.Code of the outcome (0 = OK)
	Message      string // the reason, with the HTTP status and any gateway denial reason
}

// Later is the later of two instants (the zero time is before every
// other): how a write keeps LastSlot moving forward, and where the next
// slot of a job is sought from (Later(now, LastSlot)).
func Later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
