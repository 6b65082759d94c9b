-- The durable job queue, PostgreSQL dialect. Keep in step with migrations/sqlite.
--
-- One row per job. state: ready (claimable from run_at) -> running (leased to lease_owner until
-- lease_until; claimable again once that has passed) -> done, or back to ready after a failure with
-- a retry time, or dead (the dead letters: failed without a retry time, or attempts reached
-- max_attempts). lease_owner and lease_until are set exactly while running. payload is JSON text
-- (one shape for both dialects, as instances.tags). Times other than run_at come from the
-- database's clock.

CREATE TABLE jobs (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('ready', 'running', 'done', 'dead')),
    attempts     INTEGER NOT NULL,     -- failures so far
    max_attempts INTEGER NOT NULL,
    run_at       TIMESTAMPTZ NOT NULL,
    lease_owner  TEXT,
    lease_until  TIMESTAMPTZ,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
-- The claim's pick: one queue, ready or running, in run_at order (done rows, the bulk of the table,
-- are a range the pick never reads). Also serves the dead-letter list.
CREATE INDEX jobs_claim ON jobs (queue, state, run_at);
