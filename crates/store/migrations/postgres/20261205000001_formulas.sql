-- Formula templates, PostgreSQL dialect. Keep in step with migrations/sqlite.
--
-- formulas: an organization's formula templates (issue 17, part 1), each the JSON its author sent
-- (unknown fields kept; the fields the server owns, id and the dates, are columns, not in it).
-- name is the template's own `name`, copied out so it can be unique: name_key is its
-- ASCII-lowercased form, computed by the application (the databases' lower() disagree beyond
-- ASCII), unique per organization; it sorts bytewise (COLLATE "C") as on SQLite. Deleted with
-- the organization. Timestamps come from the application's clock.

CREATE TABLE formulas (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    name_key        TEXT COLLATE "C" NOT NULL,
    template        TEXT NOT NULL,   -- JSON
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX formulas_name ON formulas (organization_id, name_key);
-- The organization's listing, in id order.
CREATE INDEX formulas_organization ON formulas (organization_id, id);
