//! The wgpu device's bind-group cache (split from `wgpu.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use super::wgpu::Pipeline;

/// A bind group for (pipeline, buffers): the key owns handles to them, so an entry can never
/// describe resources that were freed and replaced (the model is cubecl-wgpu's
/// `bind_group_cache.rs`). Pooled buffers come back with the same handle, so a repeated
/// realize over pooled buffers finds its bind groups here. Bounded: the least recently used
/// entry goes first (it is what keeps an evicted buffer's memory alive).
#[derive(Default)]
pub(super) struct BindGroupCache {
    /// (bind group, last use, the kiln pipeline it was made for: once that is evicted from
    /// the pipeline cache, the entry goes too, or it would keep the pipeline alive).
    entries: HashMap<BindKey, (::wgpu::BindGroup, u64, Weak<Pipeline>)>,
    clock: u64,
    /// The pipeline cache evicted something since the last sweep of dead entries.
    pipelines_evicted: bool,
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct BindKey {
    pub pipeline: ::wgpu::ComputePipeline,
    /// (buffer, offset, size) of each storage binding.
    pub buffers: Vec<(::wgpu::Buffer, u64, u64)>,
    /// The parameter ring and the window size, when the program has parameters (the offset
    /// is dynamic, so one bind group serves every launch).
    pub uniform: Option<(::wgpu::Buffer, u64)>,
}

const BIND_GROUP_CACHE_ENTRIES: usize = 1024;

impl BindGroupCache {
    pub fn get_or_create(
        &mut self,
        key: BindKey,
        pipeline: &Arc<Pipeline>,
        create: impl FnOnce() -> ::wgpu::BindGroup,
    ) -> ::wgpu::BindGroup {
        self.clock += 1;
        if let Some((bg, used, _)) = self.entries.get_mut(&key) {
            *used = self.clock;
            return bg.clone();
        }
        // Entries of evicted pipelines go first (swept only after an eviction, not on every
        // miss); then the least recently used.
        if std::mem::take(&mut self.pipelines_evicted) {
            self.entries.retain(|_, (_, _, p)| p.strong_count() > 0);
        }
        if self.entries.len() >= BIND_GROUP_CACHE_ENTRIES {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used, _))| *used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
        let bg = create();
        self.entries
            .insert(key, (bg.clone(), self.clock, Arc::downgrade(pipeline)));
        bg
    }

    /// Drops the bind groups that bind `buffer`, whose memory is about to be released (their
    /// handles would keep it alive).
    pub fn forget_buffer(&mut self, buffer: &::wgpu::Buffer) {
        self.entries
            .retain(|key, _| key.buffers.iter().all(|(b, _, _)| b != buffer));
    }

    /// Called when the pipeline cache evicted pipelines: their bind groups go at the next miss.
    pub fn pipelines_evicted(&mut self) {
        self.pipelines_evicted = true;
    }
}
