-- The vendor's rate limits shared by every node, PostgreSQL only (one node on SQLite keeps its
-- limits in memory). See src/vendor_budget.rs for the statements and their reasoning.
--
-- One row per budget key ('client:<OAuth client id>'): the current second, minute and UTC day by
-- number on the database's clock, with the calls each holds; blocked_until_ms (epoch ms) after a
-- vendor 429 or an exhausted quota; granted and at_ms: what the last lease granted, and when.
-- Rows are as many as the OAuth clients ever used.
--
-- UNLOGGED: a lease commits without waiting for the WAL to reach the disk (measured on the test
-- machine: 3-8 ms per logged upsert, 0.1 ms unlogged), which would otherwise be on the path of
-- every call that needs a lease. The counts need no durability: after a database crash the table
-- is empty, the second is over anyway, and the vendor's headers raise the minute and day counts
-- again with the next leases. Standbys do not have the table's rows either (the same).

CREATE UNLOGGED TABLE vendor_budgets (
    key              TEXT PRIMARY KEY,
    second           BIGINT NOT NULL,
    second_used      BIGINT NOT NULL,
    minute           BIGINT NOT NULL,
    minute_used      BIGINT NOT NULL,
    day              BIGINT NOT NULL,
    day_used         BIGINT NOT NULL,
    blocked_until_ms BIGINT NOT NULL,
    granted          BIGINT NOT NULL,
    at_ms            BIGINT NOT NULL
);
