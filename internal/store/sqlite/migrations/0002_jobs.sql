-- Cloud Scheduler: jobs with the engine's state of each, and the history of
-- their attempts. Same conventions as 0001: plain SQL that PostgreSQL can
-- mirror (BLOB -> BYTEA, TEXT keys COLLATE "C", BOOLEAN as is), times as
-- BIGINT nanoseconds since the epoch (UTC) with NULL for the zero time.

CREATE TABLE jobs (
    name       TEXT   NOT NULL PRIMARY KEY,  -- projects/P/locations/L/jobs/J
    project_id TEXT   NOT NULL,              -- parts of the name, for ListJobs
    location   TEXT   NOT NULL,
    version    BIGINT NOT NULL,              -- JobRecord.Version, compared by UpdateJob
    next_fire  BIGINT,
    due_time   BIGINT,                       -- NULL while nothing is due
    -- JobRecord.Exec, the execution in flight. exec_manual is NULL exactly
    -- when there is none (Exec == nil): every other field of an Execution
    -- may legitimately be zero, so none of them can tell nil from set.
    exec_manual        BOOLEAN,
    exec_schedule_time BIGINT,
    exec_attempts      INTEGER,
    exec_first_attempt BIGINT,
    exec_next_attempt  BIGINT,
    exec_owner         TEXT,
    exec_lease_until   BIGINT,
    record     BLOB   NOT NULL              -- the schedulerpb.Job
);
-- DueJobs: the engine's queue, read on every tick. Partial, so that paused
-- and idle jobs cost the index nothing; name breaks ties in due_time so the
-- order is total and the same on every backend.
CREATE INDEX jobs_due ON jobs (due_time, name) WHERE due_time IS NOT NULL;
-- ListJobs: one project's jobs in one location, in name order.
CREATE INDEX jobs_project_location ON jobs (project_id, location, name);

CREATE TABLE attempts (
    -- A surrogate key: nothing else identifies one attempt (two executions
    -- may share a schedule time and attempt number), and TrimAttempts
    -- deletes by it. In SQLite an alias of the rowid; in PostgreSQL
    -- BIGINT GENERATED ALWAYS AS IDENTITY.
    id            INTEGER NOT NULL PRIMARY KEY,
    job           TEXT    NOT NULL,  -- jobs.name; no foreign key, see AddAttempts
    schedule_time BIGINT,
    manual        BOOLEAN NOT NULL,
    number        INTEGER NOT NULL,
    start_time    BIGINT  NOT NULL,  -- "start" and "end" are reserved words in SQL
    end_time      BIGINT,
    url           TEXT    NOT NULL,
    http_status   INTEGER NOT NULL,
    code          INTEGER NOT NULL,
    message       TEXT    NOT NULL
);
-- ListAttempts reads one job's attempts newest first, and TrimAttempts ranks
-- them in the same order: with id in the index, both read it in index order
-- without sorting, and both agree on which attempts are the newest.
CREATE INDEX attempts_job_newest ON attempts (job, start_time DESC, number DESC, id DESC);
