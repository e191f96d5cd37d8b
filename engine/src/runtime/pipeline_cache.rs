//! Compiled pipelines kept across processes: wgpu's `PipelineCache` (Vulkan's
//! `VkPipelineCache`), loaded from and saved to a file in kiln's cache directory.
//!
//! The directory is `$KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`; the
//! file is named by wgpu's key for the adapter and driver (`pipeline_cache_key`), so a driver
//! update starts a new one. Delete the directory to clear it; `KILN_PIPELINE_CACHE=0` turns
//! it off. Data that does not fit the adapter is ignored by wgpu (`fallback`). The file is
//! rewritten at most once a second, so the pipelines of a process's last second may be missed.
//!
//! On lavapipe the cache holds only wgpu's 96-byte header: Mesa keeps llvmpipe's compiled
//! shaders in its own disk cache (`~/.cache/mesa_shader_cache`), which gives a first call in
//! a fresh process the same head start (BENCHMARKS.md, "Compile time"). Drivers that fill
//! `VkPipelineCache` get it through this file.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use web_time::Instant;

pub(crate) struct DiskPipelineCache {
    pub cache: ::wgpu::PipelineCache,
    path: PathBuf,
    /// When the file was last written; `None` before the first write.
    saved: Mutex<Option<Instant>>,
}

/// The least time between two writes of the file: a real driver's cache can be megabytes.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// kiln's cache directory (see the module docs).
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("KILN_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("kiln"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("kiln"))
}

impl DiskPipelineCache {
    /// The adapter's cache, loaded from disk when a file exists; `None` where the adapter or
    /// the user does not want one.
    pub fn open(device: &::wgpu::Device, info: &::wgpu::AdapterInfo) -> Option<DiskPipelineCache> {
        if std::env::var("KILN_PIPELINE_CACHE").is_ok_and(|v| v == "0") {
            return None;
        }
        if !device.features().contains(::wgpu::Features::PIPELINE_CACHE) {
            return None;
        }
        let key = ::wgpu::util::pipeline_cache_key(info)?;
        let path = cache_dir()?.join(key);
        let data = std::fs::read(&path).ok();
        // Safety: the data was written by `save` below from wgpu's own `get_data` for an
        // adapter with the same key; wgpu validates its header and falls back when it does
        // not match (`fallback: true`).
        let cache = unsafe {
            device.create_pipeline_cache(&::wgpu::PipelineCacheDescriptor {
                label: Some("kiln pipelines"),
                data: data.as_deref(),
                fallback: true,
            })
        };
        Some(DiskPipelineCache {
            cache,
            path,
            saved: Mutex::new(None),
        })
    }

    /// After a new pipeline: writes the cache's data, at most once per [`SAVE_EVERY`] (the
    /// first pipeline of a process always), through a temporary file so that a reader never
    /// sees half a file. Failures only cost the next process its head start.
    pub fn pipeline_added(&self) {
        {
            let mut saved = self.saved.lock().unwrap_or_else(|e| e.into_inner());
            if saved.is_some_and(|t| t.elapsed() < SAVE_EVERY) {
                return;
            }
            *saved = Some(Instant::now());
        }
        let Some(data) = self.cache.get_data() else {
            return;
        };
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let tmp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, &data).is_ok() {
            let _ = std::fs::rename(&tmp, &self.path);
        }
    }
}
