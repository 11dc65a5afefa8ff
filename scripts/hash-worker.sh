#!/bin/sh
# Trunk post-build hook (Trunk.toml): names the worker's files by their content, as Trunk names
# the page's. Trunk writes `worker.js`, `worker_bg.wasm` and the loader `worker_loader.js` under
# fixed names, so a browser (or a CDN) holding one build's worker beside another build's page
# would start a worker whose messages the page does not read. This renames them
# `worker-<hash>.js`, `worker-<hash>_bg.wasm` and `worker_loader-<hash>.js` (the hash: the first
# 16 hex digits of the SHA-256 of the glue and the wasm) and tells the page the loader's name in a
# global, `llmsimWorker`, set in index.html (web/src/worker_client.rs reads it).
set -eu
dir="${TRUNK_STAGING_DIR:?run by trunk as a post_build hook}"
cd "$dir"
for f in worker.js worker_bg.wasm worker_loader.js index.html; do
  [ -f "$f" ] || { echo "hash-worker.sh: $dir/$f is missing" >&2; exit 1; }
done
grep -q '</head>' index.html || { echo "hash-worker.sh: no </head> in $dir/index.html" >&2; exit 1; }
if command -v sha256sum >/dev/null 2>&1; then sha256() { sha256sum; }; else sha256() { shasum -a 256; }; fi
hash=$(cat worker.js worker_bg.wasm | sha256 | cut -c1-16)
mv worker.js "worker-$hash.js"
mv worker_bg.wasm "worker-${hash}_bg.wasm"
rm worker_loader.js
printf 'importScripts("./worker-%s.js");wasm_bindgen("./worker-%s_bg.wasm");' "$hash" "$hash" \
  > "worker_loader-$hash.js"
# Without sed -i (GNU and BSD spell it differently).
sed "s|</head>|<script>llmsimWorker=\"./worker_loader-$hash.js\"</script></head>|" index.html > index.html.tmp
mv index.html.tmp index.html
