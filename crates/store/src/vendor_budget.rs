//! The vendor's rate limits shared by every node on one PostgreSQL database (SPEC "Scaling out"):
//! the table `vendor_budgets` and its two statements, a lease ([`VendorBudgetTable::lease`]) and a
//! block ([`VendorBudgetTable::block`]). How a node uses them (batches, deadlines within the second,
//! the fallback when the database fails) belongs to the connector's limiter.
//!
//! # The lease: one statement
//! A row per budget key holds the current second, minute and UTC day (numbered on the database's
//! clock, `statement_timestamp()`, so that nodes whose clocks disagree still agree on the window)
//! with the calls each holds, and `blocked_until_ms`. A lease is one `INSERT … ON CONFLICT DO
//! UPDATE`: the conflicting row is locked, and every `SET` expression reads the row as it was
//! before, so `granted` (the lease's grant, computed from the old counts) and the new counts are
//! consistent, and concurrent leases from any number of nodes are serialized by the row lock.
//! Nothing is granted while blocked or in the last `margin_ms` of a second (a call sent then could
//! reach the vendor in the next second).
//!
//! The same statement gives unused calls back to their minute and day (never to the second: it is
//! over by then), and raises the minute and day counts to what the vendor's headers reported
//! (never lowers them), so that neither costs a statement of its own.

use domain::shared_budget::{Lease, LeaseRequest};
use sqlx::Row;

/// The database's clock in epoch milliseconds.
const NOW_MS: &str = "(floor(extract(epoch FROM statement_timestamp()) * 1000))::bigint";

/// A cap standing for "no limit" (large, and far from overflowing when counts are added).
const NO_CAP: i64 = i64::MAX / 4;

/// The shared budget's table on a PostgreSQL store; cheap to clone.
#[derive(Debug, Clone)]
pub struct VendorBudgetTable {
    pool: sqlx::PgPool,
}

impl VendorBudgetTable {
    pub(crate) fn new(pool: sqlx::PgPool) -> Self {
        VendorBudgetTable { pool }
    }

    /// Leases up to `request.want` calls of the current second within `request.caps`, in one
    /// statement, and returns the grant with the counts after it.
    pub async fn lease(&self, request: &LeaseRequest) -> crate::Result<Lease> {
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let sql = SQL.get_or_init(lease_sql);
        let cap = |cap: Option<u64>| cap.map_or(NO_CAP, |c| i64::try_from(c).unwrap_or(NO_CAP).min(NO_CAP));
        let count = |n: u64| i64::try_from(n).unwrap_or(NO_CAP).min(NO_CAP);
        let (unused_minutes, (unused_days, unused_counts)): (Vec<i64>, (Vec<i64>, Vec<i64>)) =
            request.unused.iter().map(|u| (u.minute, (u.day, count(u.count)))).unzip();
        let window = |w: Option<domain::shared_budget::WindowCount>| w.map_or((-1, 0), |w| (w.window, count(w.used)));
        let (vendor_minute, vendor_minute_used) = window(request.vendor_minute);
        let (vendor_day, vendor_day_used) = window(request.vendor_day);
        let row = sqlx::query(sql)
            .bind(&request.key)
            .bind(count(request.want))
            .bind(cap(request.caps.second))
            .bind(cap(request.caps.minute))
            .bind(cap(request.caps.day))
            .bind(request.margin_ms)
            .bind(unused_minutes)
            .bind(unused_days)
            .bind(unused_counts)
            .bind(vendor_minute)
            .bind(vendor_minute_used)
            .bind(vendor_day)
            .bind(vendor_day_used)
            .bind(request.blocked_until_ms)
            .fetch_one(&self.pool)
            .await?;
        let unsigned =
            |name: &str| -> crate::Result<u64> { Ok(u64::try_from(row.try_get::<i64, _>(name)?).unwrap_or(0)) };
        Ok(Lease {
            granted: unsigned("granted")?,
            now_ms: row.try_get("at_ms")?,
            second_used: unsigned("second_used")?,
            minute_used: unsigned("minute_used")?,
            day_used: unsigned("day_used")?,
            blocked_until_ms: row.try_get("blocked_until_ms")?,
        })
    }

    /// Holds every node back from `key`'s calls until `until_ms` (epoch ms), e.g. after a vendor
    /// 429; an existing later block is kept.
    pub async fn block(&self, key: &str, until_ms: i64) -> crate::Result<()> {
        sqlx::query(&block_sql()).bind(key).bind(until_ms).execute(&self.pool).await?;
        Ok(())
    }
}

/// The lease statement. Parameters: `$1` key, `$2` want, `$3`–`$5` the second, minute and day caps,
/// `$6` the margin (ms), `$7`–`$9` unused calls (minute numbers, day numbers, counts), `$10`/`$11`
/// the vendor's minute number and count, `$12`/`$13` its day number and count (`-1`: none), `$14`
/// a block to extend to (epoch ms).
///
/// The row's clock never goes back: concurrent statements take the row lock in another order than
/// their `statement_timestamp()`s, so an update reads "now" as the later of its own timestamp and
/// the row's `at_ms`. Otherwise a statement that started in second `s` but locked the row after one
/// of second `s + 1` would see another second, count from zero, and grant the second again.
fn lease_sql() -> String {
    let insert = Grant::over(NOW_MS, "-1", "0", "-1", "0", "-1", "0", "0");
    let t = "vendor_budgets";
    let now = format!("GREATEST({NOW_MS}, {t}.at_ms)");
    let update = Grant::over(
        &now,
        &format!("{t}.second"),
        &format!("{t}.second_used"),
        &format!("{t}.minute"),
        &format!("{t}.minute_used"),
        &format!("{t}.day"),
        &format!("{t}.day_used"),
        &format!("{t}.blocked_until_ms"),
    );
    format!(
        "INSERT INTO vendor_budgets \
           (key, second, second_used, minute, minute_used, day, day_used, blocked_until_ms, granted, at_ms) \
         VALUES ($1, {i_sec}, {i_s} + {i_g}, {i_min}, {i_m} + {i_g}, {i_day}, {i_d} + {i_g}, {i_b}, {i_g}, {NOW_MS}) \
         ON CONFLICT (key) DO UPDATE SET \
           second = {u_sec}, second_used = {u_s} + {u_g}, \
           minute = {u_min}, minute_used = {u_m} + {u_g}, \
           day = {u_day}, day_used = {u_d} + {u_g}, \
           blocked_until_ms = {u_b}, granted = {u_g}, at_ms = {now} \
         RETURNING granted, at_ms, second_used, minute_used, day_used, blocked_until_ms",
        i_sec = insert.window.0,
        i_min = insert.window.1,
        i_day = insert.window.2,
        i_s = insert.second,
        i_m = insert.minute,
        i_d = insert.day,
        i_b = insert.blocked,
        i_g = insert.granted,
        u_sec = update.window.0,
        u_min = update.window.1,
        u_day = update.window.2,
        u_s = update.second,
        u_m = update.minute,
        u_d = update.day,
        u_b = update.blocked,
        u_g = update.granted,
    )
}

fn block_sql() -> String {
    format!(
        "INSERT INTO vendor_budgets \
           (key, second, second_used, minute, minute_used, day, day_used, blocked_until_ms, granted, at_ms) \
         VALUES ($1, -1, 0, -1, 0, -1, 0, $2, 0, {NOW_MS}) \
         ON CONFLICT (key) DO UPDATE SET \
           blocked_until_ms = GREATEST(vendor_budgets.blocked_until_ms, excluded.blocked_until_ms)"
    )
}

/// SQL expressions over the old row (its columns, or literals when there is none) at time `now`
/// (epoch ms): the current window numbers, what each window holds before the grant, the block,
/// and the grant.
struct Grant {
    window: (String, String, String),
    second: String,
    minute: String,
    day: String,
    blocked: String,
    granted: String,
}

impl Grant {
    #[allow(clippy::too_many_arguments)]
    fn over(
        now: &str,
        sec: &str,
        sec_used: &str,
        min: &str,
        min_used: &str,
        day: &str,
        day_used: &str,
        blocked: &str,
    ) -> Self {
        let (s, m, d) = (format!("({now} / 1000)"), format!("({now} / 60000)"), format!("({now} / 86400000)"));
        let unused = |numbers: &str, window: &str| {
            format!(
                "(SELECT COALESCE(sum(u.c), 0)::bigint FROM unnest({numbers}::bigint[], $9::bigint[]) AS u(w, c) \
                 WHERE u.w = {window})"
            )
        };
        let second = format!("(CASE WHEN {sec} = {s} THEN {sec_used} ELSE 0 END)");
        let minute = format!(
            "GREATEST((CASE WHEN {min} = {m} THEN {min_used} ELSE 0 END) - {}, CASE WHEN $10 = {m} THEN $11 ELSE 0 END, 0)",
            unused("$7", &m)
        );
        let day = format!(
            "GREATEST((CASE WHEN {day} = {d} THEN {day_used} ELSE 0 END) - {}, CASE WHEN $12 = {d} THEN $13 ELSE 0 END, 0)",
            unused("$8", &d)
        );
        let blocked = format!("GREATEST({blocked}, $14)");
        let granted = format!(
            "(CASE WHEN {blocked} > {now} OR {now} % 1000 >= 1000 - $6 THEN 0 \
              ELSE GREATEST(0, LEAST($2, $3 - {second}, $4 - {minute}, $5 - {day})) END)"
        );
        Grant { window: (s, m, d), second, minute, day, blocked, granted }
    }
}
