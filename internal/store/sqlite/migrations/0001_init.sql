-- The first schema. Every record is kept whole as deterministic protobuf
-- binary in `record`; the other columns exist only because the store looks
-- rows up, orders them or enforces uniqueness by them.
--
-- Kept to plain SQL so that the PostgreSQL backend can mirror it line for
-- line: BLOB becomes BYTEA, and its TEXT keys need COLLATE "C" so that paging
-- orders by bytes as SQLite's default BINARY collation does. Times are BIGINT
-- nanoseconds since the Unix epoch (UTC), because PostgreSQL's timestamp type
-- keeps only microseconds and the contract promises nanoseconds.

CREATE TABLE projects (
    project_id TEXT   NOT NULL PRIMARY KEY,
    number     BIGINT NOT NULL UNIQUE,  -- from Project.name "projects/NUMBER"
    record     BLOB   NOT NULL
);

CREATE TABLE policies (
    resource TEXT NOT NULL PRIMARY KEY,  -- canonical resource name
    etag     BLOB NOT NULL,              -- Policy.etag, compared by PutPolicy
    record   BLOB NOT NULL
);

CREATE TABLE service_accounts (
    unique_id   TEXT   NOT NULL PRIMARY KEY,  -- never reused, even once deleted
    email       TEXT   NOT NULL,
    project_id  TEXT   NOT NULL,
    delete_time BIGINT,                       -- NULL while the account is live
    record      BLOB   NOT NULL
);
-- A deleted account frees its email, so only live accounts are unique by it.
CREATE UNIQUE INDEX service_accounts_live_email
    ON service_accounts (email) WHERE delete_time IS NULL;
-- ListServiceAccounts: one project's live accounts in email order.
CREATE INDEX service_accounts_live_project
    ON service_accounts (project_id, email) WHERE delete_time IS NULL;

CREATE TABLE functions (
    name       TEXT NOT NULL PRIMARY KEY,  -- projects/ID/locations/L/functions/F
    project_id TEXT NOT NULL,
    location   TEXT NOT NULL,
    record     BLOB NOT NULL
);
-- ListFunctions in all locations ("-") and in one, both in name order.
CREATE INDEX functions_project ON functions (project_id, name);
CREATE INDEX functions_project_location ON functions (project_id, location, name);

CREATE TABLE operations (
    name   TEXT NOT NULL PRIMARY KEY,
    record BLOB NOT NULL
);

CREATE TABLE signing_keys (
    key_id        TEXT   NOT NULL PRIMARY KEY,
    private_der   BLOB   NOT NULL,
    create_time   BIGINT NOT NULL,
    activate_time BIGINT,  -- NULL stands for the zero time.Time
    retire_time   BIGINT,
    delete_time   BIGINT
);
CREATE INDEX signing_keys_create_time ON signing_keys (create_time, key_id);

CREATE TABLE settings (
    name  TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
);
