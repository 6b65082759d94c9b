-- Junction's initial schema, SQLite dialect. Keep in step with migrations/postgres.
--
-- Timestamps are RFC 3339 text in UTC, written by the application (sqlx's chrono encoding), never
-- by SQLite's own datetime(): one format everywhere, so text comparison is time comparison.
-- Secrets: *_salt/*_hash are salted HMAC-SHA256 hashes; *_lookup are keyed HMACs for finding a row
-- by its secret; sealed columns are base64(nonce || AES-256-GCM ciphertext) under key_version.
-- AUTOINCREMENT so that an id is never reused after a delete.

CREATE TABLE organizations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    secret_salt   TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    secret_lookup TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL
);

CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    is_admin        BOOLEAN NOT NULL,
    secret_salt     TEXT NOT NULL,
    secret_hash     TEXT NOT NULL,
    secret_lookup   TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL,
    UNIQUE (organization_id, email)
);

CREATE TABLE instances (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id    INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    element_key        TEXT NOT NULL,
    name               TEXT NOT NULL,
    tags               TEXT NOT NULL,       -- JSON array of strings
    configuration      TEXT NOT NULL,       -- JSON object of the non-secret values
    secrets            TEXT NOT NULL,       -- sealed JSON object of the secret values and OAuth tokens
    token_lookup       TEXT NOT NULL UNIQUE,
    token_sealed       TEXT NOT NULL,
    key_version        INTEGER NOT NULL,    -- of both sealed columns
    valid              BOOLEAN NOT NULL,
    disabled           BOOLEAN NOT NULL,
    trace_logging      BOOLEAN NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    access_expires_at  TEXT,
    refreshed_at       TEXT,
    refresh_generation INTEGER NOT NULL
);
CREATE INDEX instances_organization ON instances (organization_id, id);
CREATE INDEX instances_access_expiry ON instances (access_expires_at);
CREATE INDEX instances_key_version ON instances (key_version);

-- Audit of the token lifecycle; no foreign key, so the audit outlives a deleted instance.
-- detail never holds a secret.
CREATE TABLE token_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id INTEGER NOT NULL,
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX token_events_instance ON token_events (instance_id, id);

-- One row: the lookup-hash key sealed under the master key. Opening it at start proves the master
-- key is the right one; a rotation re-seals it last.
CREATE TABLE keyring_canary (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    key_version INTEGER NOT NULL,
    payload     TEXT NOT NULL
);
