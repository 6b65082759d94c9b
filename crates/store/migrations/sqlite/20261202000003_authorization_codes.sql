-- The registry of exchanged OAuth authorization codes, SQLite dialect. Keep in step with
-- migrations/postgres.
--
-- One row per code claimed before its exchange with the vendor, so a replayed code is answered
-- without reaching the vendor (which would revoke the tokens the first exchange issued). code_lookup
-- is the keyed hash of the code (purpose 'authorization-code'), never the code. claim_ticket is a
-- random value naming the claim, so only its holder binds or releases it. instance_id is set once the
-- exchange created an instance; it has no foreign key, so a deleted instance is still named (ids are
-- never reused). created_at and expires_at come from SQLite's clock, as RFC 3339 text to the
-- millisecond; expired rows are pruned by the next claim.

CREATE TABLE authorization_codes (
    code_lookup     TEXT PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    instance_id     INTEGER,
    claim_ticket    TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);
-- The cascade from organizations.
CREATE INDEX authorization_codes_organization ON authorization_codes (organization_id);
