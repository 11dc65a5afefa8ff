#!/usr/bin/env bash
# Installs what is missing, builds the page (trunk build --release into dist/) and serves it on
# 127.0.0.1, printing the URL. PORT=8080 by default (the next free port if taken).
# dist/ is a static site: any static file server works (not file://: browsers refuse wasm there).
set -euo pipefail
source "$(dirname "$0")/ensure-tools.sh"
cd "$ROOT"

ensure_node
ensure_wasm_target
ensure_trunk_and_wasm_bindgen
ensure_npm web
ensure_crates
step "trunk build --release"
trunk build --release
step "serving dist/ (Ctrl-C stops)"
exec node tests/e2e/serve.mjs dist "${PORT:-8080}" 127.0.0.1
