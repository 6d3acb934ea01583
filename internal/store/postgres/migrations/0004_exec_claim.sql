-- exec_claim: the token of the claim that set exec_owner
-- (Execution.Claim), a new one on every claim. A replica whose heartbeat
-- lapsed twice during one attempt can claim the same execution again with
-- the same owner, schedule time and attempt count; the token tells its
-- late outcome of the earlier claim from the current claim's. 0 for the
-- executions in flight before it existed: their claims are told apart as
-- before, by the attempt count.
ALTER TABLE jobs ADD COLUMN exec_claim BIGINT NOT NULL DEFAULT 0;
