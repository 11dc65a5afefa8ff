// Runs one benchmark scenario in wasm under Node.js and prints its figures as one JSON line.
// Usage: node crates/bench-wasm/run.mjs --pkg target/bench-wasm --scenario NAME
//        [--scale full|quick] [--repeat N] [--shared ../shared]
// (llmsim-bench --wasm calls this once per scenario, so each gets a fresh linear memory.)
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith("--") ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []),
);
const pkg = path.resolve(args.pkg ?? "target/bench-wasm");
const scale = args.scale ?? "full";
const shared = args.shared ?? path.resolve("../shared");
const repeat = Number(args.repeat ?? 3);
const wasm = createRequire(import.meta.url)(path.join(pkg, "llmsim_bench_wasm.js"));

const paths = JSON.parse(wasm.scenario_files(args.scenario, scale, shared));
const texts = paths.map((p) => readFileSync(p, "utf8"));
const m = JSON.parse(wasm.measure_scenario(args.scenario, scale, shared, repeat, paths, texts));
// Linear memory only grows, so its size now is its peak.
m.process_peak_bytes = wasm.linear_memory_bytes();
console.log(JSON.stringify(m));
