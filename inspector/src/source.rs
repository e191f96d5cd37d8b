//! Where the inspector's trace comes from, and noticing when it has changed: a trace file
//! (reloaded when it is rewritten, as `KILN_TRACE` does after every event), this process's
//! own recording (`kiln::trace`, live, with the kernel lab), or a trace handed over once.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use web_time::Instant;

use kiln::trace::Trace;

pub enum Source {
    /// A trace file, reloaded when its modification time or length changes.
    File {
        path: PathBuf,
        /// The (mtime, length) of the last version read, parsed or not.
        seen: Option<(SystemTime, u64)>,
        /// When a version that failed to parse was read: it is retried after a second, in
        /// case it was read while being written.
        failed_at: Option<Instant>,
    },
    /// This process's recording (`kiln::trace::snapshot`), with live kernels for the lab.
    Live { seen: usize },
    /// A trace given once; `pending` until the first poll hands it over.
    Fixed { pending: Option<Trace> },
}

impl Source {
    pub fn file(path: impl Into<PathBuf>) -> Source {
        Source::File {
            path: path.into(),
            seen: None,
            failed_at: None,
        }
    }

    pub fn live() -> Source {
        Source::Live { seen: usize::MAX }
    }

    pub fn fixed(trace: Trace) -> Source {
        Source::Fixed {
            pending: Some(trace),
        }
    }

    /// Whether kernels of this source can be re-timed in this process (the kernel lab).
    pub fn is_live(&self) -> bool {
        matches!(self, Source::Live { .. })
    }

    /// What the title bar says the trace is.
    pub fn describe(&self) -> String {
        match self {
            Source::File { path, .. } => path.display().to_string(),
            Source::Live { .. } => "this process (live)".into(),
            Source::Fixed { .. } => "a recorded trace".into(),
        }
    }

    /// A new trace when there is one: `Some(Err)` when the file could not be read or
    /// parsed (the caller keeps showing the last good trace).
    pub fn poll(&mut self) -> Option<Result<Trace, String>> {
        match self {
            Source::Fixed { pending } => pending.take().map(Ok),
            Source::Live { seen } => {
                let now = kiln::trace::event_count();
                if now == *seen {
                    return None;
                }
                *seen = now;
                Some(Ok(kiln::trace::snapshot()))
            }
            Source::File {
                path,
                seen,
                failed_at,
            } => {
                let meta = match std::fs::metadata(&*path) {
                    Ok(m) => m,
                    Err(e) => {
                        let first = seen.take().is_some() || failed_at.is_none();
                        *failed_at = Some(Instant::now());
                        return first.then(|| Err(format!("{}: {e}", path.display())));
                    }
                };
                let stamp = (
                    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    meta.len(),
                );
                let retry = failed_at.is_some_and(|t| t.elapsed() > Duration::from_secs(1));
                if *seen == Some(stamp) && !retry {
                    return None;
                }
                *seen = Some(stamp);
                let parsed = std::fs::read_to_string(&*path)
                    .map_err(|e| format!("{}: {e}", path.display()))
                    .and_then(|text| {
                        Trace::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
                    });
                *failed_at = parsed.is_err().then(Instant::now);
                Some(parsed)
            }
        }
    }
}
