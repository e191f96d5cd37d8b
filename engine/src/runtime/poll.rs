//! Waiting for the wgpu device: spin, then block (split from `wgpu.rs`).
//!
//! A blocking `poll(wait)` parks the thread on the driver's fence, and waking it again costs
//! more than a small kernel takes (BENCHMARKS.md, "Waiting"). So a wait polls without
//! blocking for [`SPIN_BEFORE_BLOCKING`], which covers a small kernel and its readback, then
//! blocks: a long kernel costs the host at most that much spinning.

use std::time::{Duration, Instant};

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
