-- last_slot: the latest slot of the job's schedule that an engine fired
-- (JobRecord.LastSlot; NULL before the first), written by the claim that
-- fires it and never moved back (every write takes the later of the stored
-- value and its own). It is the floor below which no clock chooses a slot
-- again: a replica whose clock is behind the one that fired the slot, or
-- an API write served by it, would otherwise bring the slot back.
ALTER TABLE jobs ADD COLUMN last_slot BIGINT;
-- A scheduled execution in flight has fired its slot.
UPDATE jobs SET last_slot = exec_schedule_time WHERE exec_manual = false;
