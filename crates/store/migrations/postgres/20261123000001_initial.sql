-- Junction's initial schema, PostgreSQL dialect. Keep in step with migrations/sqlite.
--
-- Timestamps are timestamptz, written by the application (microsecond precision).
-- Secrets: *_salt/*_hash are salted HMAC-SHA256 hashes; *_lookup are keyed HMACs for finding a row
-- by its secret; sealed columns are base64(nonce || AES-256-GCM ciphertext) under key_version.
-- Identity columns never reuse an id after a delete.

CREATE TABLE organizations (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    secret_salt   TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    secret_lookup TEXT NOT NULL UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    is_admin        BOOLEAN NOT NULL,
    secret_salt     TEXT NOT NULL,
    secret_hash     TEXT NOT NULL,
    secret_lookup   TEXT NOT NULL UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, email)
);

CREATE TABLE instances (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id    BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    element_key        TEXT NOT NULL,
    name               TEXT NOT NULL,
    tags               TEXT NOT NULL,       -- JSON array of strings
    configuration      TEXT NOT NULL,       -- JSON object of the non-secret values
    secrets            TEXT NOT NULL,       -- sealed JSON object of the secret values and OAuth tokens
    token_lookup       TEXT NOT NULL UNIQUE,
    token_sealed       TEXT NOT NULL,
    key_version        BIGINT NOT NULL,     -- of both sealed columns
    valid              BOOLEAN NOT NULL,
    disabled           BOOLEAN NOT NULL,
    trace_logging      BOOLEAN NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    access_expires_at  TIMESTAMPTZ,
    refreshed_at       TIMESTAMPTZ,
    refresh_generation BIGINT NOT NULL
);
CREATE INDEX instances_organization ON instances (organization_id, id);
CREATE INDEX instances_access_expiry ON instances (access_expires_at);
CREATE INDEX instances_key_version ON instances (key_version);

-- Audit of the token lifecycle; no foreign key, so the audit outlives a deleted instance.
-- detail never holds a secret.
CREATE TABLE token_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id BIGINT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX token_events_instance ON token_events (instance_id, id);

-- One row: the lookup-hash key sealed under the master key. Opening it at start proves the master
-- key is the right one; a rotation re-seals it last.
CREATE TABLE keyring_canary (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    key_version BIGINT NOT NULL,
    payload     TEXT NOT NULL
);
