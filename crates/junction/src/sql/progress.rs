//! The progress bar `junction sql` shows on stderr while a statement reads pages: records read so
//! far, their rate, vendor calls and elapsed time. Only for a person watching a terminal: when
//! stderr is a file or a pipe nothing is drawn, so logs and test output stay clean.

use std::fmt;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ::sql::{Connection, Explain};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// The bar of the statement running, if any. One per connection.
pub struct Progress {
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress {
    /// Reports `connection`'s reads from now on, when stderr is a terminal; `None` otherwise.
    pub fn attach(connection: &Connection) -> Option<Arc<Progress>> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let progress = Arc::new(Progress { bar: Mutex::new(None) });
        let reported = progress.clone();
        connection.on_progress(Some(Arc::new(move |explain: &Explain| reported.update(explain))));
        Some(progress)
    }

    /// A statement starts: its bar is made now (so that its rate counts from here) but hidden
    /// until the first page arrives, so a statement that reads nothing shows no bar.
    pub fn start(&self) {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        // The template is a constant: it parses, and a failure would only cost the default style.
        if let Ok(style) = ProgressStyle::with_template("{spinner} {human_pos} records read ({rate}), {msg}, {elapsed}")
        {
            // indicatif's own `{per_sec}` shows four decimals of records per second.
            let rate = |state: &ProgressState, out: &mut dyn fmt::Write| {
                let _ = write!(out, "{:.0}/s", state.per_sec());
            };
            bar.set_style(style.with_key("rate", rate));
        }
        *self.lock() = Some(bar);
    }

    /// Erases the bar, before the statement's result is printed.
    pub fn clear(&self) {
        if let Some(bar) = self.lock().take() {
            bar.finish_and_clear();
        }
    }

    fn update(&self, explain: &Explain) {
        let guard = self.lock();
        let Some(bar) = guard.as_ref() else { return };
        let calls = explain.vendor_calls;
        bar.set_message(format!("{calls} vendor call{}", if calls == 1 { "" } else { "s" }));
        bar.set_position(explain.rows_read);
        if bar.is_hidden() {
            // Shown from the first page on, with its counts already set; the tick keeps the
            // spinner turning while the next page is awaited.
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
        }
    }

    /// A panic elsewhere cannot leave the bar in a state worth refusing to draw.
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        self.bar.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
