-- exec_claim: the token of the claim that set exec_owner
-- (Execution.Claim), a new one on every claim; 0 when none set it (the
-- single engine of this backend sets none). Stored so that a record reads
-- back as written, as in the shared backend.
ALTER TABLE jobs ADD COLUMN exec_claim INTEGER NOT NULL DEFAULT 0;
