//! [`Explain`]: what a statement cost at the source — which conditions went to the hub and on to
//! the vendor, how many vendor calls and pages were read, and how many rows were read, matched the
//! hub's conditions and were finally returned. `junction sql --explain` prints it; the progress bar
//! reads it while pages arrive.

use std::fmt;

/// The cost of one statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explain {
    /// One entry per table and set of conditions (the reads of a join's inner table with the same
    /// conditions share one).
    pub scans: Vec<ScanReport>,
    /// Vendor calls made (retries and token refreshes included; 0 in instance mode, where Junction
    /// makes them).
    pub vendor_calls: u64,
    /// Records the vendor (or Junction) sent.
    pub rows_read: u64,
    /// Of those, the records that matched the conditions handed to the hub.
    pub rows_matched: u64,
    /// Rows the statement returned (after SQLite's own filtering, joins and aggregates).
    pub rows_returned: u64,
    /// Records created, updated or deleted.
    pub records_written: u64,
}

/// The reads of one table with one set of conditions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    pub table: String,
    /// The conditions handed to the hub, without their values (`Email = ?`); SQLite re-checks
    /// them and applies the rest of the `WHERE`.
    pub conditions: Vec<String>,
    /// The sort handed to the vendor.
    pub order_by: Option<String>,
    /// The vendor `filter` of the last read (`None`: the source does not say).
    pub vendor_filters: Option<Vec<String>>,
    /// Times SQLite started this read (a join's inner table is read once per outer row).
    pub reads: u64,
    pub pages: u64,
    pub vendor_calls: u64,
    pub rows_read: u64,
    pub rows_matched: u64,
}

impl fmt::Display for Explain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for scan in &self.scans {
            let conditions =
                if scan.conditions.is_empty() { "none".to_string() } else { scan.conditions.join(" AND ") };
            writeln!(f, "{}: handed to the hub: {conditions}", scan.table)?;
            match &scan.vendor_filters {
                Some(filters) if filters.iter().all(String::is_empty) => {
                    writeln!(f, "  vendor filter: none (full read)")?
                }
                Some(filters) => writeln!(f, "  vendor filter: {}", filters.join(" | "))?,
                None => {}
            }
            if let Some(order) = &scan.order_by {
                writeln!(f, "  vendor sort: {order}")?;
            }
            writeln!(
                f,
                "  {} read{}, {} page{}, {} vendor call{}, {} rows read, {} matched at the hub",
                scan.reads,
                plural(scan.reads),
                scan.pages,
                plural(scan.pages),
                scan.vendor_calls,
                plural(scan.vendor_calls),
                scan.rows_read,
                scan.rows_matched
            )?;
        }
        write!(
            f,
            "total: {} vendor call{}, {} rows read, {} filtered out at the hub, {} rows returned",
            self.vendor_calls,
            plural(self.vendor_calls),
            self.rows_read,
            self.rows_read.saturating_sub(self.rows_matched),
            self.rows_returned
        )?;
        if self.records_written > 0 {
            write!(f, ", {} records written", self.records_written)?;
        }
        Ok(())
    }
}

fn plural(count: u64) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}
