// Roofline probe: device FLOP rate. Each invocation runs 4 independent vec4 FMA chains for
// 1024 steps (2 flops per FMA per component: 32,768 flops per invocation) and writes one
// result so that nothing is dead code. The trip count stays far below llvmpipe's limit of
// 65,535 loop iterations per invocation.
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * 256u + lid;
  var a = vec4<f32>(f32(i) * 1e-6);
  var b = a + vec4<f32>(0.1);
  var c = a + vec4<f32>(0.2);
  var d = a + vec4<f32>(0.3);
  let m = vec4<f32>(0.9999);
  let k = vec4<f32>(0.0001);
  for (var s = 0u; s < 1024u; s = s + 1u) {
    a = fma(a, m, k);
    b = fma(b, m, k);
    c = fma(c, m, k);
    d = fma(d, m, k);
  }
  if (i < arrayLength(&out)) {
    out[i] = a + b + c + d;
  }
}
