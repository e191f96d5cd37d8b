//! Index checks' verdicts. A kernel with index checks (`gather`, `index_select`, `scatter`,
//! `scatter_add`, `one_hot`) writes two status words when it meets an index outside its axis:
//! the failed check's number and the index. Every buffer remembers the statuses its value
//! depends on (through the kernels that computed it and their inputs), and reading it reads
//! those first: an `Err` naming the op and the index instead of a value computed from a
//! position that was never there. A status is read once; a clean one is then forgotten.

use std::sync::{Arc, Mutex, OnceLock};

use crate::codegen::ast::IndexCheck;
use crate::dtype::DType;
use crate::error::{Error, Result};

use super::{Buffer, Device};

/// Unverified statuses a buffer may carry before it verifies them itself (a long chain of
/// launches that reads nothing back, as a training loop, would otherwise grow the list).
const MAX_PENDING: usize = 64;

/// The status words of one launch and the checks they report on.
pub(crate) struct Status {
    words: Arc<Buffer>,
    checks: Vec<IndexCheck>,
    /// `None` until read; then the failure it recorded, if any.
    verdict: OnceLock<Option<(IndexCheck, i64)>>,
}

impl Status {
    /// Zeroed status words for a launch of a kernel with these checks.
    pub fn new(device: &Device, checks: &[IndexCheck]) -> Result<Arc<Status>> {
        Ok(Arc::new(Status {
            words: Arc::new(device.upload(&[0, 0], 2, DType::I32)?),
            checks: checks.to_vec(),
            verdict: OnceLock::new(),
        }))
    }

    /// The buffer the kernel binds last.
    pub fn words(&self) -> Arc<Buffer> {
        self.words.clone()
    }

    fn known_clean(&self) -> bool {
        matches!(self.verdict.get(), Some(None))
    }

    /// Records what the words say failed, if anything (the first reader's words win).
    fn settle(&self, w: &[u32]) {
        let v = (w[0] != 0).then(|| {
            let check = self.checks[w[0] as usize - 1];
            let index = match check.unsigned {
                true => w[1] as i64,
                false => w[1] as i32 as i64,
            };
            (check, index)
        });
        let _ = self.verdict.set(v);
    }

    /// What the settled words say failed, if anything.
    fn failure(&self) -> Result<()> {
        match *self.verdict.get().expect("settled") {
            None => Ok(()),
            Some((check, index)) => Err(Error::IndexOutOfRange {
                op: check.op.name(),
                index,
                len: check.len,
            }),
        }
    }
}

/// The statuses a buffer's value depends on, not yet known to be clean.
#[derive(Default)]
pub(crate) struct Depends(Mutex<Vec<Arc<Status>>>);

impl Depends {
    /// The unverified statuses (a failed one stays: every read of the value fails).
    pub fn pending(&self) -> Vec<Arc<Status>> {
        let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|s| !s.known_clean());
        list.clone()
    }

    pub fn set(&self, statuses: Vec<Arc<Status>>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = statuses;
    }

    /// Reads every status the value depends on, those of one device together (one wait):
    /// the first failure, or `Ok`.
    pub fn verify(&self) -> Result<()> {
        let pending = self.pending();
        for group in unread_by_device(&pending) {
            let bufs: Vec<&Buffer> = group.iter().map(|s| &*s.words).collect();
            for (s, w) in group.iter().zip(super::read_words_many(&bufs)?) {
                s.settle(&w);
            }
        }
        first_failure(&pending)
    }

    /// [`Depends::verify`] without blocking.
    pub async fn verify_async(&self) -> Result<()> {
        let pending = self.pending();
        for group in unread_by_device(&pending) {
            let bufs: Vec<&Buffer> = group.iter().map(|s| &*s.words).collect();
            for (s, w) in group.iter().zip(super::read_words_many_async(&bufs).await?) {
                s.settle(&w);
            }
        }
        first_failure(&pending)
    }
}

/// After a launch: reads the statuses of a value that depends on too many (their kernels
/// were submitted, so the reads wait for them), keeping only failures, which stay pending and
/// are reported at the value's read. In the browser, where nothing may wait, the read is
/// left to the page's event loop.
pub(crate) fn bound(buf: &Arc<Buffer>) {
    if buf.depends.pending().len() <= MAX_PENDING {
        return;
    }
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        let buf = buf.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = buf.depends.verify_async().await;
        });
    }
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    let _ = buf.depends.verify();
}

/// The statuses of `pending` not read yet, grouped by device (each group one read).
fn unread_by_device(pending: &[Arc<Status>]) -> Vec<Vec<&Arc<Status>>> {
    let mut groups: Vec<Vec<&Arc<Status>>> = vec![];
    for s in pending.iter().filter(|s| s.verdict.get().is_none()) {
        match groups
            .iter_mut()
            .find(|g| g[0].words.device == s.words.device)
        {
            Some(g) => g.push(s),
            None => groups.push(vec![s]),
        }
    }
    groups
}

/// The first failure among settled statuses, in order.
fn first_failure(pending: &[Arc<Status>]) -> Result<()> {
    pending.iter().try_for_each(|s| s.failure())
}

/// The statuses that outputs of a launch reading `inputs` (and writing `own`) depend on,
/// each once.
pub(crate) fn union(inputs: &[Arc<Buffer>], own: Option<&Arc<Status>>) -> Vec<Arc<Status>> {
    let mut out: Vec<Arc<Status>> = vec![];
    for s in inputs
        .iter()
        .flat_map(|b| b.depends.pending())
        .chain(own.cloned())
    {
        if !out.iter().any(|o| Arc::ptr_eq(o, &s)) {
            out.push(s);
        }
    }
    out
}
