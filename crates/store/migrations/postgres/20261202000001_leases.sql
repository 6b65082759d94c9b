-- Leases, PostgreSQL dialect. Keep in step with migrations/sqlite.
--
-- One row per lease: (kind, key) names what is leased (e.g. 'refresher', 'default'), owner who holds
-- it, expires_at until when. Written only by the database's clock (statement_timestamp()), so nodes
-- with skewed clocks agree on expiry. A released lease is deleted; an expired one stays until it is
-- taken again (rows are as many as the distinct things ever leased).

CREATE TABLE leases (
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    owner      TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, key)
);
