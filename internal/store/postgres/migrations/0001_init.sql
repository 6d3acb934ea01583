-- The PostgreSQL schema, the SQLite backend's data model (sqlite/migrations)
-- written afresh. Every record is kept whole as deterministic protobuf
-- binary in a BYTEA; the other columns exist because the store looks rows up,
-- orders them, compares them or enforces uniqueness by them.
--
-- Keys are TEXT COLLATE "C" so that ordering and paging compare bytes, as
-- the contract (and SQLite's BINARY collation) does, whatever the
-- database's default collation. Times are BIGINT nanoseconds since the Unix
-- epoch (UTC), NULL for the zero time: timestamptz keeps only microseconds
-- and the contract promises nanoseconds. The one exception is replicas,
-- whose times are only ever compared with the database's own clock.

CREATE TABLE projects (
    project_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    number     BIGINT           NOT NULL UNIQUE,  -- from Project.name "projects/NUMBER"
    record     BYTEA            NOT NULL
);

CREATE TABLE policies (
    resource TEXT COLLATE "C" NOT NULL PRIMARY KEY,  -- canonical resource name
    etag     BYTEA            NOT NULL,              -- Policy.etag, compared by PutPolicy
    record   BYTEA            NOT NULL
);

CREATE TABLE service_accounts (
    unique_id   TEXT COLLATE "C" NOT NULL PRIMARY KEY,  -- never reused, even once deleted
    email       TEXT COLLATE "C" NOT NULL,
    project_id  TEXT COLLATE "C" NOT NULL,
    delete_time BIGINT,                                 -- NULL while the account is live
    record      BYTEA            NOT NULL
);
-- A deleted account frees its email, so only live accounts are unique by it.
CREATE UNIQUE INDEX service_accounts_live_email
    ON service_accounts (email) WHERE delete_time IS NULL;
-- ListServiceAccounts: one project's live accounts in email order.
CREATE INDEX service_accounts_live_project
    ON service_accounts (project_id, email) WHERE delete_time IS NULL;

CREATE TABLE functions (
    name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,  -- projects/ID/locations/L/functions/F
    project_id TEXT COLLATE "C" NOT NULL,
    location   TEXT COLLATE "C" NOT NULL,
    record     BYTEA            NOT NULL
);
-- ListFunctions in all locations ("-") and in one, both in name order.
CREATE INDEX functions_project ON functions (project_id, name);
CREATE INDEX functions_project_location ON functions (project_id, location, name);

CREATE TABLE operations (
    name   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    record BYTEA            NOT NULL
);

CREATE TABLE signing_keys (
    key_id        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    private_der   BYTEA            NOT NULL,
    create_time   BIGINT           NOT NULL,
    activate_time BIGINT,  -- NULL stands for the zero time.Time
    retire_time   BIGINT,
    delete_time   BIGINT
);
CREATE INDEX signing_keys_create_time ON signing_keys (create_time, key_id);

CREATE TABLE settings (
    name  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    value BYTEA            NOT NULL
);

-- Cloud Scheduler's jobs, in two parts as in SQLite: the engine reads and
-- writes a narrow row on every dispatch, and the Job message (most of the
-- bytes) lives in job_records, written only by the API. In PostgreSQL this
-- matters more than in SQLite: every UPDATE writes a whole new row version,
-- so a state write copies ~150 bytes, not the message.
--
-- No project_id and location columns: the name is
-- projects/P/locations/L/jobs/J with no '/' inside P or L, so one project's
-- jobs in one location are a range of the primary key (ListJobs), and
-- every index left out is one less index entry per state write (a state
-- write moves due_time, so it is never a HOT update and every index of the
-- table gets a new entry).
CREATE TABLE jobs (
    name        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    incarnation BIGINT           NOT NULL,  -- JobRecord.Incarnation
    version     BIGINT           NOT NULL,  -- JobRecord.Version
    state       INTEGER          NOT NULL,  -- Job.state
    schedule    TEXT             NOT NULL,  -- Job.schedule
    time_zone   TEXT             NOT NULL,  -- Job.time_zone
    next_fire   BIGINT,
    due_time    BIGINT,                     -- NULL while nothing is due
    -- JobRecord.Exec. exec_manual is NULL exactly when there is none (every
    -- other field of an Execution may legitimately be zero). exec_owner is
    -- '' both without an execution and for one nobody owns, which is what
    -- the claim queries ask ("nobody owns it") and lets the partial indexes
    -- below name it.
    exec_manual        BOOLEAN,
    exec_schedule_time BIGINT,
    exec_attempts      INTEGER,
    exec_first_attempt BIGINT,
    exec_next_attempt  BIGINT,
    exec_owner         TEXT COLLATE "C" NOT NULL DEFAULT '',
    exec_lease_until   BIGINT,
    status             BYTEA,           -- Job.status (google.rpc.Status); NULL when unset
    last_attempt_time  BIGINT,          -- Job.last_attempt_time
    schedule_time      BIGINT           -- Job.schedule_time
);
-- The queue: jobs due that nobody owns, in claim order. ClaimJobs and
-- NextDue read its head; partial, so paused, idle and in-flight jobs cost
-- it nothing.
CREATE INDEX jobs_claimable ON jobs (due_time, name)
    WHERE exec_owner = '' AND due_time IS NOT NULL;
-- Owned jobs by owner: the distinct owners (few: one per replica) are
-- walked on it, and a dead owner's jobs found by it. Partial: only jobs in
-- flight have an owner.
CREATE INDEX jobs_owned ON jobs (exec_owner) WHERE exec_owner <> '';

CREATE TABLE job_records (
    name   TEXT COLLATE "C" NOT NULL PRIMARY KEY,  -- jobs.name
    record BYTEA            NOT NULL               -- the schedulerpb.Job
);

-- The last version of each deleted job name, so that a job created again
-- under it continues its versions instead of restarting at 1.
CREATE TABLE job_tombstones (
    name    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    version BIGINT           NOT NULL
);

CREATE TABLE attempts (
    -- A surrogate key: nothing else identifies one attempt, TrimAttempts
    -- deletes by it, and it orders attempts that share a Start and number
    -- (the later added first).
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job           TEXT COLLATE "C" NOT NULL,  -- jobs.name; no foreign key, see AddAttempts
    schedule_time BIGINT,
    manual        BOOLEAN          NOT NULL,
    number        INTEGER          NOT NULL,
    start_time    BIGINT           NOT NULL,
    end_time      BIGINT,
    url           TEXT             NOT NULL,
    http_status   INTEGER          NOT NULL,
    code          INTEGER          NOT NULL,
    message       TEXT             NOT NULL
);
-- ListAttempts reads one job's attempts newest first, and TrimAttempts
-- ranks them in the same order.
CREATE INDEX attempts_job_newest ON attempts (job, start_time DESC, number DESC, id DESC);

-- Replicas sharing the database (store.Claimer): each one's heartbeat, as
-- the database's clock judges it. A retired replica stays with an expired
-- lease; Heartbeat removes long-expired ones that own nothing.
CREATE TABLE replicas (
    name         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    lease_until  TIMESTAMPTZ      NOT NULL,
    heartbeat_at TIMESTAMPTZ      NOT NULL
);
