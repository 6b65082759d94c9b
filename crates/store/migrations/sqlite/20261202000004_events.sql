-- Events, SQLite dialect. Keep in step with migrations/postgres.
--
-- event_pollers: one row per instance whose events are enabled (kept in step with its configuration
-- by the instance writes): when its next poll is due, and which node has it claimed until when
-- (claim_until from SQLite's clock; next_poll_at from the application's, like jobs.run_at).
-- event_watermarks: per instance and object, the newest vendor change time a poll has seen, and when
-- its ids were last reconciled in full (how deletes are found). event_known_ids: every record id a
-- poll has seen, with the change time last reported for it: a change at or before it is a duplicate
-- (the overlap window re-reads it), an id never seen is CREATED, a known id missing from a full
-- reconciliation is DELETED. events: the durable outbox and the event log, one row per notification
-- (its changes share one object type), written before anything is sent. Vendor times are RFC 3339
-- text in UTC, compared as text.

CREATE TABLE event_pollers (
    instance_id  INTEGER PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    next_poll_at TEXT NOT NULL,
    claim_owner  TEXT,
    claim_until  TEXT,
    last_poll_at TEXT,
    last_error   TEXT
);
CREATE INDEX event_pollers_due ON event_pollers (next_poll_at);

CREATE TABLE event_watermarks (
    instance_id   INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    object        TEXT NOT NULL,
    watermark     TEXT,
    reconciled_at TEXT,
    PRIMARY KEY (instance_id, object)
);

CREATE TABLE event_known_ids (
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    object      TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    last_change TEXT NOT NULL,
    PRIMARY KEY (instance_id, object, object_id)
);

CREATE TABLE events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id     INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    source          TEXT NOT NULL,
    object_type     TEXT NOT NULL,
    changes         TEXT NOT NULL,   -- JSON array of the notification's event objects
    raw             TEXT NOT NULL,   -- JSON: what the vendor gave for them
    status          TEXT NOT NULL CHECK (status IN ('NEW', 'DISPATCHED', 'NOTIFIED', 'FAILED')),
    attempts        INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    notified_at     TEXT,
    last_status     INTEGER,
    last_error      TEXT
);
CREATE INDEX events_instance ON events (instance_id, id);
CREATE INDEX events_due ON events (status, next_attempt_at);
CREATE INDEX events_created ON events (created_at);
