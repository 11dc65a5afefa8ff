#!/usr/bin/env bash
# Installs what is missing, then runs every test: native (cargo test --workspace), browser unit
# tests (wasm-bindgen-test in headless Chromium), the release build of the page, the
# end-to-end tests of the built page in headless Chromium (screenshots: target/e2e-artifacts/),
# and the Python package's tests (its wheel in target/py-venv; pytest, with a two-node Ray cluster).
# Every test step runs even when an earlier one fails; the exit status says whether all passed.
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
ensure_python_venv
wasm-opt --version

failed=()
# Runs one test step; a failure is recorded and the next steps still run.
check() {
  local name="$1"; shift
  step "$name"
  if ! "$@"; then failed+=("$name"); echo "::: FAILED: $name"; return 1; fi
}

check "formatting: cargo fmt --all --check (rustfmt.toml)" cargo fmt --all --check || true

check "native tests: cargo test --workspace" cargo test --locked --workspace --no-fail-fast || true

# The fuzz harness's short campaign (crates/fuzz): 100,000 mutated traces, configurations and
# model files through the parsers, SimConfig::build and small bounded runs; any panic, hang,
# abort, broken invariant or unlocated error fails it (minimal inputs under target/tmp).
# Same features as the step above (--workspace), so nothing is rebuilt.
check "fuzz: short campaign (100,000 executions)" \
  cargo test --locked --workspace --test short_campaign -- --ignored || true

# INV-7: the engine reads no clock and calls no platform-dependent float functions
# (crates/engine/clippy.toml lists what is disallowed).
if cargo clippy --version >/dev/null 2>&1; then
  check "engine purity: clippy disallowed methods" \
    cargo clippy --locked -p llmsim-engine --lib -- -D clippy::disallowed_methods -D clippy::disallowed_types || true
else
  step "SKIPPED engine purity check: clippy is not installed (rustup component add clippy)"
fi

check "browser unit tests: wasm-bindgen-test in headless Chromium" \
  env CHROMEDRIVER="$(command -v chromedriver)" WASM_BINDGEN_TEST_WEBDRIVER_JSON="$ROOT/webdriver.json" \
  cargo test --locked --no-fail-fast --target wasm32-unknown-unknown -p llmsim-web -p llmsim-worker --tests || true

if check "page: trunk build --release" trunk build --release; then
  for f in dist/*.wasm dist/*.js; do
    printf '  %-40s %9d bytes, %8d gzipped\n' "$f" "$(wc -c <"$f")" "$(gzip -9 -c "$f" | wc -c)"
  done
  # The e2e tests compare the page's summary.json with the native CLI's.
  if check "native CLI: cargo build --release -p llmsim-cli" cargo build --locked --release -p llmsim-cli; then
    check "end to end: node --test tests/e2e/ (headless Chromium)" node --test --test-concurrency=1 tests/e2e/ || true
  fi
fi

# The Python package: its wheel (maturin, abi3) installed into target/py-venv, then pytest
# (crates/python/tests): golden scenarios and output files against the CLI's, errors, the GIL,
# the example, and searches on a process pool and on a two-node Ray cluster.
python_wheel() {
  rm -rf target/wheels
  "$PY_VENV/bin/maturin" build --locked --release -m crates/python/Cargo.toml -o target/wheels &&
    "$PY_VENV/bin/pip" install --disable-pip-version-check --force-reinstall --no-deps target/wheels/llmsim-*.whl
}
if check "python: the CLI and the wheel (cargo build --release -p llmsim-cli; maturin build --release)" \
  eval 'cargo build --locked --release -p llmsim-cli && python_wheel'; then
  check "python: pytest crates/python/tests" \
    env LLMSIM_CLI="$ROOT/target/release/llmsim" "$PY_VENV/bin/python" -m pytest -q -rs crates/python/tests || true
fi

if [ ${#failed[@]} -gt 0 ]; then
  step "FAILED: ${failed[*]}"
  exit 1
fi
step "all tests passed"
