//! Log lines on their way to stderr when no person is watching it (a file, a pipe, a log
//! collector): gathered in memory and written a batch at a time, at most [`FLUSH_AFTER`] after the
//! first line of the batch, as nginx's `access_log ... buffer= flush=` does.
//!
//! Written line by line, stderr cost a system call per request, under a lock the runtime's workers
//! also waited on (BENCHMARKS.md "The hot path": 4.95 system calls a raw hub call, 4.0 now). The
//! price: a line can reach stderr up to [`FLUSH_AFTER`] late, and a process killed with
//! `kill -9` loses the lines of its last [`FLUSH_AFTER`]. An orderly exit, an error returned from
//! `main` and a panic write everything first ([`LogBuffer::flush`]).
//!
//! Lines leave in the order they were written: every write to stderr happens under `writing`, and
//! takes what is pending only once it holds it.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// The longest a line waits in the buffer.
pub const FLUSH_AFTER: Duration = Duration::from_millis(100);

/// Pending bytes past which the line's own writer writes them out at once, so that memory stays
/// bounded when stderr cannot keep up (a full pipe then holds the callers back, as it did before).
const WRITE_AT_ONCE: usize = 256 * 1024;

/// Where batches go: stderr in the process, a vector in the tests.
type Sink = Box<dyn Fn(&[u8]) + Send + Sync>;

/// The process's buffer; one per process, since stderr is one per process.
pub struct LogBuffer {
    /// Bytes not yet written.
    pending: Mutex<Vec<u8>>,
    /// Signalled when `pending` stops being empty: the flusher sleeps on it while there is nothing.
    filled: Condvar,
    /// Held across every write to the sink.
    writing: Mutex<()>,
    /// Set when there is no flusher thread: every line is then written as it comes.
    unbuffered: AtomicBool,
    sink: Sink,
}

impl LogBuffer {
    /// The process's buffer, with its flusher thread started on first use.
    pub fn global() -> &'static LogBuffer {
        static BUFFER: std::sync::OnceLock<&'static LogBuffer> = std::sync::OnceLock::new();
        BUFFER.get_or_init(|| {
            let buffer: &'static LogBuffer = Box::leak(Box::new(LogBuffer::new(Box::new(write_to_stderr))));
            let spawned = std::thread::Builder::new().name("log-flusher".into()).spawn(move || buffer.flush_forever());
            if spawned.is_err() {
                buffer.unbuffered.store(true, Ordering::Relaxed);
                eprintln!("junction: cannot start the log flusher thread; log lines are written unbuffered");
            }
            buffer
        })
    }

    fn new(sink: Sink) -> Self {
        LogBuffer {
            pending: Mutex::new(Vec::new()),
            filled: Condvar::new(),
            writing: Mutex::new(()),
            unbuffered: AtomicBool::new(false),
            sink,
        }
    }

    /// Appends one log line (the formatter hands over a whole line per call).
    fn append(&self, line: &[u8]) {
        let mut pending = lock(&self.pending);
        let was_empty = pending.is_empty();
        pending.extend_from_slice(line);
        let full = pending.len() >= WRITE_AT_ONCE;
        drop(pending);
        if full || self.unbuffered.load(Ordering::Relaxed) {
            self.flush();
        } else if was_empty {
            // Once per batch, not per line: a notification is a system call.
            self.filled.notify_one();
        }
    }

    /// Writes everything pending now.
    pub fn flush(&self) {
        let _writing = lock(&self.writing);
        let batch = std::mem::take(&mut *lock(&self.pending));
        if !batch.is_empty() {
            (self.sink)(&batch);
        }
    }

    /// The flusher thread: sleeps until a line arrives, lets the batch gather for [`FLUSH_AFTER`],
    /// writes it, and again.
    fn flush_forever(&self) {
        loop {
            let pending = lock(&self.pending);
            let pending =
                self.filled.wait_while(pending, |pending| pending.is_empty()).unwrap_or_else(|e| e.into_inner());
            drop(pending);
            std::thread::sleep(FLUSH_AFTER);
            self.flush();
        }
    }
}

/// A poisoned lock only means a thread panicked while holding it; bytes are still bytes.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_to_stderr(batch: &[u8]) {
    // Nowhere to report a failed log write but the log itself: the lines are dropped.
    let _ = std::io::stderr().lock().write_all(batch);
}

/// The writer the formatter gets for each line: appends to the buffer.
pub struct LineWriter(&'static LogBuffer);

impl LineWriter {
    pub fn new(buffer: &'static LogBuffer) -> Self {
        LineWriter(buffer)
    }
}

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    fn collecting() -> (LogBuffer, Arc<Mutex<Vec<u8>>>) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let sink = written.clone();
        (LogBuffer::new(Box::new(move |batch| lock(&sink).extend_from_slice(batch))), written)
    }

    #[test]
    fn lines_wait_for_a_flush_and_leave_in_order() {
        let (buffer, written) = collecting();
        buffer.append(b"one\n");
        buffer.append(b"two\n");
        assert!(lock(&written).is_empty(), "nothing written before a flush");
        buffer.flush();
        assert_eq!(&*lock(&written), b"one\ntwo\n");
        buffer.flush();
        assert_eq!(&*lock(&written), b"one\ntwo\n", "written once");
    }

    #[test]
    fn a_full_buffer_is_written_by_the_line_that_fills_it() {
        let (buffer, written) = collecting();
        buffer.append(&vec![b'x'; WRITE_AT_ONCE - 1]);
        assert!(lock(&written).is_empty());
        buffer.append(b"\n");
        assert_eq!(lock(&written).len(), WRITE_AT_ONCE, "written out, not kept growing");
        assert!(lock(&buffer.pending).is_empty());
    }

    #[test]
    fn the_flusher_writes_a_lone_line_without_being_asked() {
        let (buffer, written) = collecting();
        let buffer: &'static LogBuffer = Box::leak(Box::new(buffer));
        std::thread::spawn(move || buffer.flush_forever());
        buffer.append(b"alone\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        while lock(&written).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(&*lock(&written), b"alone\n");
    }
}
