#!/usr/bin/env bash
# Installs what is missing, then runs every test: native (cargo test --workspace), browser unit
# tests (wasm-bindgen-test in headless Chromium), the release build of the page, and the
# end-to-end tests of the built page in headless Chromium (screenshots: target/e2e-artifacts/).
# LLMSIM_REQUIRE_SHARED=1 makes tests that read ../shared fail instead of skip when it is absent.
set -euo pipefail
source "$(dirname "$0")/ensure-tools.sh"
cd "$ROOT"
export CARGO_TERM_COLOR=never

step "tools"
ensure_node
ensure_chromium
ensure_wasm_target
ensure_trunk_and_wasm_bindgen
ensure_npm web
ensure_npm tests/e2e
ensure_crates
wasm-opt --version

step "native tests: cargo test --workspace"
cargo test --locked --workspace

step "browser unit tests: wasm-bindgen-test in headless Chromium"
CHROMEDRIVER="$(command -v chromedriver)" WASM_BINDGEN_TEST_WEBDRIVER_JSON="$ROOT/webdriver.json" \
  cargo test --locked --target wasm32-unknown-unknown -p llmsim-web -p llmsim-worker --tests

step "page: trunk build --release"
trunk build --release
for f in dist/*.wasm dist/*.js; do
  printf '  %-40s %9d bytes, %8d gzipped\n' "$f" "$(wc -c <"$f")" "$(gzip -9 -c "$f" | wc -c)"
done

step "native CLI for the native-vs-browser comparison: cargo build --release -p llmsim-cli"
cargo build --locked --release -p llmsim-cli

step "end to end: node --test tests/e2e/ (headless Chromium)"
node --test --test-concurrency=1 tests/e2e/

step "all tests passed"
