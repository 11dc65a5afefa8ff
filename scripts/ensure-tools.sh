# Sourced by scripts/serve.sh and scripts/test.sh: installs what is missing, nothing else.
# Each `ensure_*` is a no-op when its tool is already there at the exact version needed.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRUNK_VERSION=0.21.14   # newest trunk whose rust-version fits rustc 1.95 (0.22.x needs 1.96.1)
# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock, or trunk refuses to build.
WB_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock")"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$ROOT/web/node_modules/.bin:$PATH"
export CARGO_TERM_PROGRESS_WHEN=never
mkdir -p "$ROOT/target"

step() { echo "::: [$((SECONDS / 60))m$((SECONDS % 60))s] $*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# Runs "$@" with its output in target/<log>, shown only if it fails.
quietly() {
  local log="$ROOT/target/$1"; shift
  if ! "$@" >"$log" 2>&1; then cat "$log"; echo "failed: $* (log: $log)" >&2; return 1; fi
}

# Node.js ≥ 20.10 (the e2e runner uses `node --test --test-concurrency`); the machines this
# project targets ship Node 20. Debian 12's own nodejs is 18, so it is only a last resort.
ensure_node() {
  command -v npm >/dev/null || { step "installing Node.js and npm (apt)"; apt_install nodejs npm; }
  local version major minor
  version="$(node --version | tr -d v)"
  major="${version%%.*}"; minor="${version#*.}"; minor="${minor%%.*}"
  if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 10 ]; }; then
    echo "Node.js $version is too old: the end-to-end tests need Node.js 20.10 or newer (install it from nodejs.org or NodeSource)" >&2
    return 1
  fi
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ] || ! command -v chromedriver >/dev/null; then
    step "installing chromium and chromium-driver (apt)"
    apt_install chromium chromium-driver
  fi
}

ensure_wasm_target() {
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    step "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
}

# trunk and wasm-bindgen-cli, each only when the exact version is missing; both at once
# (about 6 minutes on 2 cores; trunk's own release profile would take 13).
ensure_trunk_and_wasm_bindgen() {
  local pids=()
  if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
    step "cargo install trunk $TRUNK_VERSION (debug build: trunk only orchestrates, as fast as release)"
    CARGO_PROFILE_DEV_DEBUG=0 quietly install-trunk.log cargo install --debug --locked trunk --version "$TRUNK_VERSION" &
    pids+=($!)
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WB_VERSION" ]; then
    step "cargo install wasm-bindgen-cli $WB_VERSION"
    # Its own lockfile can name a crate version the registry lacks; resolve afresh then.
    { cargo install --force --locked wasm-bindgen-cli --version "$WB_VERSION" >"$ROOT/target/install-wasm-bindgen.log" 2>&1 \
      || { echo "wasm-bindgen-cli: the --locked install failed; resolving its dependencies afresh"
           quietly install-wasm-bindgen.log cargo install --force wasm-bindgen-cli --version "$WB_VERSION"; }; } &
    pids+=($!)
  fi
  for pid in "${pids[@]}"; do wait "$pid"; done
  if [ "$(trunk --version)" != "trunk $TRUNK_VERSION" ] || [ "$(wasm-bindgen --version)" != "wasm-bindgen $WB_VERSION" ]; then
    echo "expected trunk $TRUNK_VERSION and wasm-bindgen $WB_VERSION on PATH, found: $(trunk --version), $(wasm-bindgen --version)" >&2
    return 1
  fi
  echo "$(trunk --version), $(wasm-bindgen --version)"
}

# npm packages of web/ (wasm-opt from binaryen 132; Debian's binaryen 108 breaks the module) or
# tests/e2e/ (playwright-core), when missing or older than the lockfile.
ensure_npm() {
  local dir="$ROOT/$1"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    step "npm ci in $1"
    quietly "npm-$(basename "$1").log" npm ci --prefix "$dir" --no-audit --no-fund
  fi
}

# The Python package's build and test tools (maturin, pytest, pandas, matplotlib, Ray) in a
# virtual environment of the machine's python3, target/py-venv, at the versions of
# crates/python/requirements-test.txt; installed again when that file changes (Ray's wheel is
# large: about 1-2 minutes the first time).
PY_VENV="$ROOT/target/py-venv"
ensure_python_venv() {
  local req="$ROOT/crates/python/requirements-test.txt"
  if ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    step "installing python3 with venv (apt)"
    apt_install python3 python3-venv python3-pip
  fi
  if [ ! -x "$PY_VENV/bin/python" ]; then
    step "python3 -m venv target/py-venv"
    python3 -m venv "$PY_VENV"
  fi
  if ! cmp -s "$req" "$PY_VENV/requirements-test.txt"; then
    step "pip install -r crates/python/requirements-test.txt (into target/py-venv)"
    quietly pip-install.log "$PY_VENV/bin/pip" install --disable-pip-version-check -r "$req"
    cp "$req" "$PY_VENV/requirements-test.txt"
  fi
}

# trunk builds offline (Trunk.toml): every crate must be in cargo's cache first.
ensure_crates() {
  quietly cargo-fetch.log cargo fetch --locked
}
