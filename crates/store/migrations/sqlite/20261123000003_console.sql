-- The web console's state, SQLite dialect. Keep in step with migrations/postgres.
--
-- console_sessions: signed-in browsers, found by the keyed hash of the session cookie (never the
-- cookie itself). pending_authorizations: the Authenticate form kept between the redirect to the
-- vendor and its callback, found by the keyed hash of the OAuth state; the form is sealed because it
-- holds the client secret and the Encrypted Key. Both are pruned on expiry by the code that writes
-- them (expires_at indexes).
-- vendor_calls: the trace log of an instance's vendor calls, newest VENDOR_CALLS_KEPT per instance;
-- no credentials (the token travels in a header), and gone with the instance.

CREATE TABLE console_sessions (
    session_lookup TEXT PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
CREATE INDEX console_sessions_user ON console_sessions (user_id);

-- Rows live minutes, so the cascades from organizations and users scan a small table unindexed.
CREATE TABLE pending_authorizations (
    state_lookup    TEXT PRIMARY KEY,
    session_lookup  TEXT NOT NULL,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    request_sealed  TEXT NOT NULL,
    key_version     INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);
CREATE INDEX pending_authorizations_expiry ON pending_authorizations (expires_at);

CREATE TABLE vendor_calls (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      INTEGER NOT NULL,    -- 0 when no answer came
    duration_ms INTEGER NOT NULL
);
CREATE INDEX vendor_calls_instance ON vendor_calls (instance_id, id);
