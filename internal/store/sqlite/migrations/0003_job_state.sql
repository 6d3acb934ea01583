-- Jobs in two parts. The engine reads every job at start and writes one on
-- every dispatch, but needs only a small part of it; the Job message (its
-- target, headers, body, token and retry settings: most of the bytes) is
-- read when the API shows a job and when the engine sends it. So:
--
--   jobs         the engine's narrow row: the job's key, version, the few
--                fields of the Job the engine acts on (state, schedule,
--                time_zone, copies kept with every full write), the engine's
--                state, and the output fields only the engine writes
--                (status, last_attempt_time, schedule_time), which override
--                the message's copies when a job is read. A claim or an
--                attempt's outcome rewrites this row only. WITHOUT ROWID:
--                rows are small and always found by name, and the load at
--                start reads them in name order from one b-tree.
--   job_records  the Job message, written only by the API.
--   job_tombstones  the last version of each deleted job name, so that a job
--                created again under it continues its versions instead of
--                restarting at 1 (a version read from the deleted job must
--                never match its successor).
--
-- The rows of 0002's jobs table are moved by the Go step of this migration
-- (migrate.go: moveJobs0002), which decodes each message for the copied
-- fields, then drops the old table.

DROP INDEX jobs_due;
DROP INDEX jobs_project_location;
ALTER TABLE jobs RENAME TO jobs_0002;

CREATE TABLE jobs (
    name        TEXT    NOT NULL PRIMARY KEY,  -- projects/P/locations/L/jobs/J
    project_id  TEXT    NOT NULL,
    location    TEXT    NOT NULL,
    incarnation BIGINT  NOT NULL,              -- JobRecord.Incarnation
    version     BIGINT  NOT NULL,              -- JobRecord.Version
    state       INTEGER NOT NULL,              -- Job.state
    schedule    TEXT    NOT NULL,              -- Job.schedule
    time_zone   TEXT    NOT NULL,              -- Job.time_zone
    next_fire   BIGINT,
    due_time    BIGINT,
    -- JobRecord.Exec, as in 0002: exec_manual is NULL exactly when there is none.
    exec_manual        BOOLEAN,
    exec_schedule_time BIGINT,
    exec_attempts      INTEGER,
    exec_first_attempt BIGINT,
    exec_next_attempt  BIGINT,
    exec_owner         TEXT,
    exec_lease_until   BIGINT,
    status             BLOB,                   -- Job.status (google.rpc.Status); NULL when unset
    last_attempt_time  BIGINT,                 -- Job.last_attempt_time
    schedule_time      BIGINT                  -- Job.schedule_time
) WITHOUT ROWID;
CREATE INDEX jobs_due ON jobs (due_time, name) WHERE due_time IS NOT NULL;
CREATE INDEX jobs_project_location ON jobs (project_id, location, name);

CREATE TABLE job_records (
    name   TEXT NOT NULL PRIMARY KEY,  -- jobs.name
    record BLOB NOT NULL               -- the schedulerpb.Job
);

CREATE TABLE job_tombstones (
    name    TEXT   NOT NULL PRIMARY KEY,
    version BIGINT NOT NULL
) WITHOUT ROWID;
