// Roofline probe: device memory bandwidth. Copies `src` to `dst` in vec4 words; bytes moved =
// 2 x the buffer size. Two access patterns, because devices differ in which one is fastest:
// `main` copies one word per invocation (neighbouring lanes touch neighbouring words, what a
// GPU coalesces), `main4` copies four consecutive words per invocation (what a CPU driver such
// as llvmpipe vectorizes best). The runner keeps the faster. The grid may be folded into y
// (65,535 workgroups per dimension), so the flat index is rebuilt from both.
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i < arrayLength(&src)) {
    dst[i] = src[i];
  }
}

@compute @workgroup_size(256)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let i = ((wid.x + wid.y * nwg.x) * 256u + lid) * 4u;
  if (i + 3u < arrayLength(&src)) {
    dst[i] = src[i];
    dst[i + 1u] = src[i + 1u];
    dst[i + 2u] = src[i + 2u];
    dst[i + 3u] = src[i + 3u];
  }
}
