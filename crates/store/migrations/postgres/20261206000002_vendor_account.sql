-- The vendor account an instance's grants name, PostgreSQL dialect. Keep in step with migrations/sqlite.
--
-- vendor_account: the Keap app (its host, `ab123.infusionsoft.com`) the user authorized, as the
-- token endpoint's `scope` (`full|<host>`) names it at the code exchange and at each refresh;
-- NULL until a grant names one. The rate limiter counts the instance's calls against it from the
-- first call on, on every node.
ALTER TABLE instances ADD COLUMN vendor_account TEXT;
