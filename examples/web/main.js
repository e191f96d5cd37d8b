// Steps the fluid, draws each frame, and turns drags into stirs. Exposes the measured rates
// as `window.kilnFluid` (headless measurement reads them).
import init, { Demo, Inspector } from './pkg/kiln_fluid_web.js';

await init();
const N = 256;
const demo = await Demo.create(N);
const canvas = document.getElementById('fluid');
const ctx = canvas.getContext('2d');
const stats = document.getElementById('stats');
const jet = document.getElementById('jet');
// Input is queued and handed over between steps: `demo` is borrowed while a step runs.
const stirs = [];
let jetChanged = false;
jet.addEventListener('change', () => { jetChanged = true; });

let last = null;
canvas.addEventListener('pointermove', (e) => {
  if (!e.buttons) { last = null; return; }
  const r = canvas.getBoundingClientRect();
  const y = (e.clientY - r.top) / r.height * N, x = (e.clientX - r.left) / r.width * N;
  if (last) {
    stirs.push([y, x, (y - last.y) * 4, (x - last.x) * 4]);
    jet.checked = false;
  }
  last = { y, x };
});

// "Pause and inspect a step": record the next step and its frame, pause, and open kiln's
// inspector on that recording below; "Resume" closes it and steps on.
const inspectButton = document.getElementById('inspect');
const inspectorCanvas = document.getElementById('inspector');
let inspectRequested = false, inspector = null;
inspectButton.addEventListener('click', () => {
  if (inspector) {
    inspector.close();
    inspector = null;
    demo.record(false);
    inspectorCanvas.hidden = true;
    inspectButton.textContent = 'Pause and inspect a step';
    requestAnimationFrame(frame);
  } else {
    inspectRequested = true;
  }
});

const rate = { steps: 0, since: performance.now(), stepsPerSecond: 0, kernels: 0, total: 0 };
window.kilnFluid = rate;
async function frame() {
  for (const [y, x, dy, dx] of stirs.splice(0)) demo.stir(y, x, dy, dx);
  if (jetChanged) { demo.set_jet(jet.checked); jetChanged = false; }
  const recording = inspectRequested;
  if (recording) { inspectRequested = false; demo.record(true); }
  await demo.step();
  const pixels = await demo.frame();
  ctx.putImageData(new ImageData(new Uint8ClampedArray(pixels.buffer, pixels.byteOffset, pixels.length), N, N), 0, 0);
  rate.steps += 1;
  rate.total += 1;
  if (rate.total == 1) console.log(`first step and frame: ${(performance.now() - rate.since).toFixed(0)} ms`);
  rate.kernels = demo.kernels_last_step();
  const now = performance.now();
  if (now - rate.since > 1000) {
    rate.stepsPerSecond = rate.steps * 1000 / (now - rate.since);
    rate.steps = 0;
    rate.since = now;
    stats.textContent =
      `device          ${demo.device_name()}\n` +
      `steps/s         ${rate.stepsPerSecond.toFixed(1)} (one frame drawn a step)\n` +
      `kernels a step  ${rate.kernels}`;
  }
  if (recording) {
    inspectorCanvas.hidden = false;
    inspectButton.textContent = 'Resume';
    inspector = await Inspector.open(inspectorCanvas);
    window.kilnInspectorOpen = true;
    return; // paused until Resume
  }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
