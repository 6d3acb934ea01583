-- RunJob's executions in flight (store.Manual), one row each: a job may
-- run several beside its scheduled one (jobs.exec_*), so they cannot live
-- in its row. Written before the first attempt is sent, rewritten with each
-- outcome, deleted at the end: after a crash the engine sends the attempt
-- in flight again, with the same schedule time.
--
-- AUTOINCREMENT: an id is never reused, even after the newest row is
-- deleted, so that a late write meant for an ended execution never lands
-- on a newer one. Times are nanoseconds since the epoch, NULL for the zero
-- time, as in jobs. owner and claim are the shared backend's (replicas);
-- this backend's one engine leaves them '' and 0, and stores them so that
-- a row reads back as written.
CREATE TABLE manual_executions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job           TEXT    NOT NULL,  -- jobs.name
    incarnation   INTEGER NOT NULL,  -- jobs.incarnation when RunJob started it
    schedule_time INTEGER,
    attempts      INTEGER NOT NULL,
    first_attempt INTEGER,
    next_attempt  INTEGER,
    lease_until   INTEGER,
    owner         TEXT    NOT NULL DEFAULT '',
    claim         INTEGER NOT NULL DEFAULT 0
);
-- DeleteJob removes a job's executions with it.
CREATE INDEX manual_executions_job ON manual_executions (job);
