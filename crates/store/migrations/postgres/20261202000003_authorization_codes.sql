-- The registry of exchanged OAuth authorization codes, PostgreSQL dialect. Keep in step with
-- migrations/sqlite.
--
-- One row per code claimed before its exchange with the vendor, so a replayed code is answered
-- without reaching the vendor (which would revoke the tokens the first exchange issued). code_lookup
-- is the keyed hash of the code (purpose 'authorization-code'), never the code. claim_ticket is a
-- random value naming the claim, so only its holder binds or releases it. instance_id is set once the
-- exchange created an instance; it has no foreign key, so a deleted instance is still named (ids are
-- never reused). created_at and expires_at come from the database's clock; expired rows are pruned
-- by the next claim.

CREATE TABLE authorization_codes (
    code_lookup     TEXT PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    instance_id     BIGINT,
    claim_ticket    TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);
-- The cascade from organizations.
CREATE INDEX authorization_codes_organization ON authorization_codes (organization_id);
