-- jobs_due is dropped: on this backend one engine holds every job's due
-- time in memory (it reads all jobs at start), so no query of the engine
-- reads the index, while every claim and every outcome moved the job's
-- entry in it (two b-tree deletes and two inserts per dispatch, a few
-- percent of a burst's CPU). DueJobs, kept for the Store contract, scans.
DROP INDEX jobs_due;
