//! GPU timestamps: a query pair around each compute pass, resolved into a mappable buffer
//! (what `Kernel::time`, `DEBUG>=2` and traces read).

/// Timestamp queries around `passes` compute passes (a begin and an end each), resolved into
/// a buffer the host can map.
pub(super) struct PassTimer {
    query_set: ::wgpu::QuerySet,
    resolve: ::wgpu::Buffer,
    pub(super) staging: ::wgpu::Buffer,
    passes: u32,
}

impl PassTimer {
    pub(super) fn new(device: &::wgpu::Device, passes: usize) -> PassTimer {
        let passes = passes as u32;
        let bytes = passes as u64 * 16;
        let buffer = |usage| {
            device.create_buffer(&::wgpu::BufferDescriptor {
                label: Some("kiln timestamps"),
                size: bytes.max(16),
                usage,
                mapped_at_creation: false,
            })
        };
        PassTimer {
            query_set: device.create_query_set(&::wgpu::QuerySetDescriptor {
                label: None,
                ty: ::wgpu::QueryType::Timestamp,
                count: (2 * passes).max(2),
            }),
            resolve: buffer(::wgpu::BufferUsages::QUERY_RESOLVE | ::wgpu::BufferUsages::COPY_SRC),
            staging: buffer(::wgpu::BufferUsages::MAP_READ | ::wgpu::BufferUsages::COPY_DST),
            passes,
        }
    }
    pub(super) fn bytes(&self) -> u64 {
        self.passes as u64 * 16
    }
    /// The timestamp writes of pass `i`.
    pub(super) fn writes(&self, i: usize) -> ::wgpu::ComputePassTimestampWrites<'_> {
        ::wgpu::ComputePassTimestampWrites {
            query_set: &self.query_set,
            beginning_of_pass_write_index: Some(2 * i as u32),
            end_of_pass_write_index: Some(2 * i as u32 + 1),
        }
    }
    /// Records the copy of the timestamps into the mappable buffer (end of the encoder).
    pub(super) fn resolve(&self, enc: &mut ::wgpu::CommandEncoder) {
        enc.resolve_query_set(&self.query_set, 0..2 * self.passes, &self.resolve, 0);
        enc.copy_buffer_to_buffer(&self.resolve, 0, &self.staging, 0, self.bytes());
    }
}
