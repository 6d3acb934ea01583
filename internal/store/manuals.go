package store

// RunJob's executions. A RunJob execution may run beside the job's
// scheduled one (JobRecord.Exec), and beside other RunJob executions of the
// same job, so each has a row of its own: written before its first attempt
// is sent, rewritten with each attempt's outcome (its attempt count and
// next attempt), deleted when it ends. After a crash the engine finds it
// and sends the attempt in flight again with the same schedule time, as it
// does a scheduled execution's.

// Manual is one stored RunJob execution.
type Manual struct {
	// ID identifies the execution: given by AddManual, larger than every
	// ID given before, never reused.
	ID int64
	// Job is the job's name; Incarnation is the JobRecord.Incarnation of
	// the job it was started for.
	Job         string
	Incarnation int64
	// Exec is the execution; Exec.Manual is true as read, whatever was
	// written. Owner and Claim are the replicas' (see Claimer): Owner ""
	// and Claim 0 on one process.
	Exec Execution
}

// ManualWrite is one write of UpdateManuals.
type ManualWrite struct {
	ID int64
	// Claim is the Exec.Claim the writer holds: the write is refused
	// unless the stored one is still it (the execution was not claimed by
	// another replica since).
	Claim int64
	// Exec is the execution's new state, Claim included; nil deletes it
	// (it ended). A replica releasing it moves Claim on, so that a copy
	// read before the release and written after it is refused.
	Exec *Execution
}
