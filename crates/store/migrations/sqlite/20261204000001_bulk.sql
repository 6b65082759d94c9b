-- Bulk jobs, SQLite dialect. Keep in step with migrations/postgres.
--
-- bulk_jobs: one row per job of an instance. status: UPLOADING (an upload's file is still arriving
-- or being checked; no runner sees it) -> CREATED (queued: queue_job_id names its row in jobs) ->
-- RUNNING -> COMPLETED, FAILED or CANCELLED. step counts the committed steps: a runner commits
-- step N only while the row is still at N, so two runners of one job (a lease expired under a slow
-- one) never both commit a step. position is JSON text: where the next step starts (a hub scan
-- position, or an upload's byte offset and row number). request is JSON text: what the job does
-- (the query, or the upload's format and identifier field) and the result's CSV columns.
-- bulk_results: an export's records, one row per committed step, as JSON lines and as CSV rows,
-- with each text's byte offset in the whole result (Range requests find their chunk by it).
-- bulk_errors: one row per refused upload row or failed export. bulk_files: an upload's file in
-- parts of about a megabyte, so any node can run the job.

CREATE TABLE bulk_jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    instance_id     BIGINT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('query', 'upload')),
    object_name     TEXT NOT NULL,
    request         TEXT NOT NULL,
    callback_url    TEXT,
    status          TEXT NOT NULL
                    CHECK (status IN ('UPLOADING', 'CREATED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    queue_job_id    BIGINT,
    step            BIGINT NOT NULL DEFAULT 0,
    position        TEXT,
    records_count   BIGINT NOT NULL DEFAULT 0,
    failed_count    BIGINT NOT NULL DEFAULT 0,
    vendor_calls    BIGINT NOT NULL DEFAULT 0,
    expected_count  BIGINT,
    json_bytes      BIGINT NOT NULL DEFAULT 0,
    csv_bytes       BIGINT NOT NULL DEFAULT 0,
    chunks          BIGINT NOT NULL DEFAULT 0,
    error           TEXT,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    completed_at    TEXT,
    updated_at      TEXT NOT NULL
);
CREATE INDEX bulk_jobs_instance ON bulk_jobs (instance_id, id);
CREATE INDEX bulk_jobs_status ON bulk_jobs (status, updated_at);

CREATE TABLE bulk_results (
    job_id     BIGINT NOT NULL REFERENCES bulk_jobs (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    records    BIGINT NOT NULL,
    json_start BIGINT NOT NULL,
    json_len   BIGINT NOT NULL,
    json       TEXT NOT NULL,
    csv_start  BIGINT NOT NULL,
    csv_len    BIGINT NOT NULL,
    csv        TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE bulk_errors (
    job_id     BIGINT NOT NULL REFERENCES bulk_jobs (id) ON DELETE CASCADE,
    row_number BIGINT NOT NULL,
    field      TEXT,
    message    TEXT NOT NULL,
    PRIMARY KEY (job_id, row_number)
);

CREATE TABLE bulk_files (
    job_id BIGINT NOT NULL REFERENCES bulk_jobs (id) ON DELETE CASCADE,
    seq    BIGINT NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (job_id, seq)
);
