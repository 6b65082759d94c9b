-- Leases, SQLite dialect. Keep in step with migrations/postgres.
--
-- One row per lease: (kind, key) names what is leased (e.g. 'refresher', 'default'), owner who holds
-- it, expires_at until when. Written only by SQLite's clock, as RFC 3339 text to the millisecond
-- (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')), which compares as text with the application's
-- timestamps. A released lease is deleted; an expired one stays until it is taken again (rows are as
-- many as the distinct things ever leased).

CREATE TABLE leases (
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    owner      TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
