-- Formula instances and executions, SQLite dialect. Keep in step with migrations/postgres.
--
-- formula_instances: a template's slots bound to an organization's element instances and values
-- (configuration, a JSON object), with the platforms' settings object kept as sent. Deleted with
-- their template (and so with the organization). The trigger cursors say how far the trigger
-- jobs have read: event_cursor the last event id of the bound instance turned into executions
-- (NULL: none yet, events from created_at on count), schedule_cursor the time up to which the
-- scheduled triggers have fired.
--
-- formula_executions: one run of a formula instance. template and config are copies taken when the
-- run was triggered, so a run resumed after a kill runs what it started with. dedupe_key names
-- the cause of a triggered run (an event, a schedule's fire time) so two nodes or a repeated
-- trigger pass create it once. status: queued, pending (a node runs it), success, failed,
-- cancelled.
--
-- formula_execution_steps: every step run of an execution, in order (seq), written as started
-- before the step runs and finished after; next is the branch taken (onSuccess or onFailure).
-- Timestamps come from the application's clock.

CREATE TABLE formula_instances (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    formula_id      INTEGER NOT NULL REFERENCES formulas (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    active          BOOLEAN NOT NULL,
    configuration   TEXT NOT NULL,   -- JSON object
    settings        TEXT NOT NULL,   -- JSON object
    event_cursor    INTEGER,
    schedule_cursor TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX formula_instances_formula ON formula_instances (organization_id, formula_id, id);
CREATE INDEX formula_instances_active ON formula_instances (active, id);

CREATE TABLE formula_executions (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id     INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    formula_instance_id INTEGER NOT NULL REFERENCES formula_instances (id) ON DELETE CASCADE,
    formula_id          INTEGER NOT NULL,
    status              TEXT NOT NULL,
    trigger_data        TEXT NOT NULL,   -- JSON
    template            TEXT NOT NULL,   -- JSON
    config              TEXT NOT NULL,   -- JSON object
    dedupe_key          TEXT,
    error               TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    finished_at         TEXT
);
CREATE UNIQUE INDEX formula_executions_dedupe ON formula_executions (formula_instance_id, dedupe_key);
CREATE INDEX formula_executions_instance ON formula_executions (formula_instance_id, id);
CREATE INDEX formula_executions_finished ON formula_executions (finished_at);

CREATE TABLE formula_execution_steps (
    execution_id INTEGER NOT NULL REFERENCES formula_executions (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    step_name    TEXT NOT NULL,
    step_type    TEXT NOT NULL,
    status       TEXT NOT NULL,   -- started, success, failed
    next_branch  TEXT,            -- onSuccess, onFailure
    input        TEXT NOT NULL,   -- JSON
    output       TEXT,            -- JSON
    error        TEXT,
    attempts     INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    PRIMARY KEY (execution_id, seq)
);
