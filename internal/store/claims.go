package store

import (
	"context"
	"time"
)

// Claimer is what a store shared by several oidcron replicas offers their
// engines (PostgreSQL). With it, no replica keeps the queue of due jobs in
// memory: the jobs table is the queue, and each replica claims due work
// from it in transactions that skip the rows another replica is claiming,
// so each scheduled time of each job is claimed once.
//
// Ownership and liveness. A claimed execution carries its replica's name
// in Execution.Owner. A replica proves it is alive with Heartbeat; its
// executions become orphans once its heartbeat has expired by the store's
// clock; another replica claims them once it has itself been alive
// without a break for as long as the dead replica's lease (so that after a stall of the store,
// which every replica's heartbeats went through, none is judged dead
// before it could beat again), or at once when the owner retired. Liveness is judged by the
// store's clock alone, never by a replica's, so skew between replicas'
// clocks cannot make a live replica look dead. Due times, on the other
// hand, are compared with the claiming replica's clock (the now argument),
// the clock the engine schedules with.
type Claimer interface {
	// Heartbeat records that replica owner is alive for lease from now by
	// the store's clock, registering it on its first call, and returns the
	// store's clock. A replica calls it before its first claim and then
	// well within lease, again and again.
	Heartbeat(ctx context.Context, owner string, lease time.Duration) (storeNow time.Time, err error)
	// Retire ends owner's heartbeat at once: what it still owns is
	// orphaned (a replica stopping after its attempts in flight ended, or
	// were cancelled).
	Retire(ctx context.Context, owner string) error
	// ClaimJobs claims work for owner, which must have a live heartbeat,
	// in one transaction. It takes up to limit (> 0) jobs, each once, that
	// are
	//   - orphaned: their Exec.Owner is neither "" nor owner, that
	//     replica's heartbeat has expired, and owner's heartbeats have run
	//     without a lapse for at least that replica's lease (or that
	//     replica retired); or
	//   - due: DueTime is set and not after now, and Exec is nil or its
	//     Owner is "";
	// orphans first, then by DueTime and name, skipping the jobs other
	// transactions hold (FOR UPDATE SKIP LOCKED). For each it calls plan
	// with the job's record (Job message included) and writes the
	// JobState plan returns when plan returns true (plan's s.Version is
	// ignored: the row is locked; the stored Version becomes one larger),
	// or leaves the job as it is when plan returns false. It returns the
	// claimed jobs' records as written: new Version, NextFire, DueTime,
	// Exec, and the Job's schedule_time, status and last_attempt_time as
	// the state set them. plan runs inside the transaction: it must be
	// quick and without side effects (the transaction may be retried).
	ClaimJobs(ctx context.Context, owner string, now time.Time, limit int, plan func(JobRecord) (JobState, bool)) ([]JobRecord, error)
	// OwnedJobs returns the names of the jobs whose execution owner owns,
	// by name: the replica compares them with what it is running, to find
	// a claim it does not know it made (its commit was reported failed).
	OwnedJobs(ctx context.Context, owner string) ([]string, error)
	// NextDue returns the earliest DueTime of the jobs that ClaimJobs
	// would take as due once their time comes (no owner), or NextAttempt
	// of the manual executions ClaimManuals would, or zero when none has
	// one.
	NextDue(ctx context.Context) (time.Time, error)
	// ClaimManuals claims manual executions (Manual) for owner, which must
	// have a live heartbeat, in one transaction: up to limit (> 0) of
	// those that are orphaned (as ClaimJobs' orphans) or due (Owner "" and
	// NextAttempt set and not after now), orphans first, then by
	// NextAttempt and ID, skipping those other transactions hold. Each
	// gets Owner owner, NextAttempt zero and a Claim one larger than the
	// stored one; it is returned as written, with Orphan telling which
	// kind it was.
	ClaimManuals(ctx context.Context, owner string, now time.Time, limit int) ([]ClaimedManual, error)
}

// ClaimedManual is a manual execution ClaimManuals claimed: Orphan when its
// owner had died (its attempt in flight is made again), else a retry that
// came due.
type ClaimedManual struct {
	Manual
	Orphan bool
}
