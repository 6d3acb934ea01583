-- RunJob's executions (store.Manual): a row each, beside the job's own
-- execution in jobs, since several may run at once for one job. Times are
-- BIGINT nanoseconds, NULL for the zero time, as in jobs.
CREATE TABLE manual_executions (
    -- Manual.ID: an identity, so that each is larger than every one given
    -- before and never reused (a sequence does not go back, even after a
    -- delete or a rolled back insert), as the contract promises.
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- jobs.name and jobs.incarnation of the job it was started for. No
    -- foreign key: DeleteJob removes the rows in the statement that
    -- removes the job, and the incarnation tells a re-created job's
    -- executions from those of the one deleted under its name.
    job           TEXT COLLATE "C" NOT NULL,
    incarnation   BIGINT           NOT NULL,
    -- The Execution, as jobs' exec_* columns hold the scheduled one
    -- (Execution.Manual is not stored: it is always true here).
    schedule_time BIGINT,
    attempts      INTEGER          NOT NULL,
    first_attempt BIGINT,
    next_attempt  BIGINT,                      -- NULL while no attempt is due (one is in flight)
    lease_until   BIGINT,
    -- '' for an execution nobody owns, as jobs.exec_owner, so that the
    -- partial indexes below can name it.
    owner         TEXT COLLATE "C" NOT NULL DEFAULT '',
    -- Execution.Claim: UpdateManuals writes only while it is the writer's,
    -- and ClaimManuals makes it one larger.
    claim         BIGINT           NOT NULL DEFAULT 0
);
-- DeleteJob removes a job's executions by its name.
CREATE INDEX manual_executions_job ON manual_executions (job);
-- The queue of manual executions: due ones that nobody owns, in claim
-- order. ClaimManuals and NextDue read its head; partial, so executions in
-- flight cost it nothing.
CREATE INDEX manual_executions_claimable ON manual_executions (next_attempt, id)
    WHERE owner = '' AND next_attempt IS NOT NULL;
-- Owned executions by owner: ClaimManuals finds a dead owner's on it, and
-- Heartbeat's garbage collection asks whether a replica still owns one.
CREATE INDEX manual_executions_owned ON manual_executions (owner) WHERE owner <> '';
