//! Waiting for the wgpu device: spin, then block (split from `wgpu.rs`).
//!
//! A blocking `poll(wait)` parks the thread on the driver's fence, and waking it again costs
//! more than a small kernel takes (BENCHMARKS.md, "Waiting"). So a wait polls without
//! blocking for [`SPIN_BEFORE_BLOCKING`], which covers a small kernel and its readback, then
//! blocks: a long kernel costs the host at most that much spinning.

use std::time::Duration;
use web_time::Instant;

use crate::error::{Error, Result};

/// How long a wait polls before it blocks.
pub(super) const SPIN_BEFORE_BLOCKING: Duration = Duration::from_micros(500);

/// Polls `device` until `done` says so (given the last poll's status: whether the queue was
/// empty), spinning for up to [`SPIN_BEFORE_BLOCKING`] and then blocking until the queue is
/// empty. Callbacks of finished work (buffer maps) run inside the polls.
pub(super) fn wait_until(
    device: &::wgpu::Device,
    mut done: impl FnMut(bool) -> bool,
) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < SPIN_BEFORE_BLOCKING {
        let status = device.poll(::wgpu::PollType::Poll).map_err(waiting)?;
        if done(status.is_queue_empty()) {
            return Ok(());
        }
        std::hint::spin_loop();
    }
    device
        .poll(::wgpu::PollType::wait_indefinitely())
        .map_err(waiting)?;
    Ok(())
}

fn waiting(e: ::wgpu::PollError) -> Error {
    Error::Device(format!("waiting for the device: {e}"))
}

/// The result of a wgpu callback (a buffer map, work done), awaited.
///
/// In the browser the JS event loop runs the callback after the awaiting task yields. Natively
/// callbacks run inside `device.poll`, so each poll of the future polls the device without
/// blocking and, while the result is missing, asks to be polled again: it never blocks its
/// executor's thread, whichever executor that is.
pub(super) struct Callback<T> {
    shared: std::sync::Arc<std::sync::Mutex<Slot<T>>>,
}

struct Slot<T> {
    value: Option<T>,
    waker: Option<std::task::Waker>,
}

impl<T: Send + 'static> Callback<T> {
    /// The future and the function for wgpu to call with the result.
    pub fn new() -> (Callback<T>, impl FnOnce(T) + Send + 'static) {
        let shared = std::sync::Arc::new(std::sync::Mutex::new(Slot {
            value: None,
            waker: None,
        }));
        let setter = shared.clone();
        let deliver = move |value: T| {
            let mut slot = setter.lock().unwrap_or_else(|e| e.into_inner());
            slot.value = Some(value);
            if let Some(w) = slot.waker.take() {
                w.wake();
            }
        };
        (Callback { shared }, deliver)
    }

    /// Waits for the callback on `device`.
    pub async fn wait(self, device: &::wgpu::Device) -> Result<T> {
        std::future::poll_fn(|cx| {
            let take = || {
                let mut slot = self.shared.lock().unwrap_or_else(|e| e.into_inner());
                slot.value.take().ok_or(slot).map_err(|mut slot| {
                    slot.waker = Some(cx.waker().clone());
                })
            };
            if let Ok(v) = take() {
                return std::task::Poll::Ready(Ok(v));
            }
            if crate::target::ON_WEB {
                return std::task::Poll::Pending; // the event loop wakes us
            }
            if let Err(e) = device.poll(::wgpu::PollType::Poll) {
                return std::task::Poll::Ready(Err(waiting(e)));
            }
            match take() {
                Ok(v) => std::task::Poll::Ready(Ok(v)),
                Err(()) => {
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                }
            }
        })
        .await
    }
}
