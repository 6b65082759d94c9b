-- The web console's state, PostgreSQL dialect. Keep in step with migrations/sqlite.
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
    user_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
CREATE INDEX console_sessions_user ON console_sessions (user_id);

-- Rows live minutes, so the cascades from organizations and users scan a small table unindexed.
CREATE TABLE pending_authorizations (
    state_lookup    TEXT PRIMARY KEY,
    session_lookup  TEXT NOT NULL,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    request_sealed  TEXT NOT NULL,
    key_version     BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX pending_authorizations_expiry ON pending_authorizations (expires_at);

CREATE TABLE vendor_calls (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id BIGINT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    at          TIMESTAMPTZ NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      INTEGER NOT NULL,    -- 0 when no answer came
    duration_ms BIGINT NOT NULL
);
CREATE INDEX vendor_calls_instance ON vendor_calls (instance_id, id);
