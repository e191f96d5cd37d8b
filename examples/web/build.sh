#!/usr/bin/env bash
# Builds the fluid demo's wasm module into examples/web/pkg (wasm-bindgen's `web` target).
# Needs the wasm32 target and wasm-bindgen-cli at the version of the wasm-bindgen crate in
# Cargo.lock (.ci/run installs both). Then serve this folder, e.g.
#   python3 -m http.server -d examples/web 8000   and open http://localhost:8000
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --target wasm32-unknown-unknown -p kiln-fluid-web
wasm-bindgen --target web --no-typescript --out-dir examples/web/pkg \
  "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/kiln_fluid_web.wasm"
echo "built examples/web/pkg; serve examples/web/ and open index.html"
