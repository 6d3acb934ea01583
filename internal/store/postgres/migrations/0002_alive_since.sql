-- alive_since: the start of a replica's current unbroken run of heartbeats
-- (a heartbeat that finds its lease expired starts a new run). A replica
-- takes over the jobs of an expired owner only once it has itself been
-- alive for as long as that owner's lease: after a stall of the database that every
-- replica's heartbeats went through, the first one back must not judge the
-- others dead before they have had a lease's time to beat again.
ALTER TABLE replicas ADD COLUMN alive_since TIMESTAMPTZ;
UPDATE replicas SET alive_since = heartbeat_at;
ALTER TABLE replicas ALTER COLUMN alive_since SET NOT NULL;
