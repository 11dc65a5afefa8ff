// Benchmark (not a test): the page's first load on loopback, N times in one headless Chromium,
// each in a fresh tab with nothing cached (the server sends `cache-control: no-store`). Prints
// MEASURE lines: the gzipped wasm and JS, and the median and range of first paint, first
// contentful paint and time until the run button is enabled (page mounted, worker loaded), and
// the gzipped bytes of the whole load.
//
// Run: node tests/e2e/first-load.bench.mjs [dist] [loads]   (after `trunk build --release`)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';
import { CHROMIUM, DIST } from './helpers.mjs';

const dist = path.resolve(process.argv[2] ?? DIST);
const loads = Number(process.argv[3] ?? 7);
const site = await serve(dist);
const browser = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'llmsim-bench-')), {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
});
const samples = { first_paint: [], first_contentful_paint: [], ready: [], all_in_gzip_bytes: [] };
for (let i = 0; i < loads; i++) {
  const bytes = site.transferred.bytes;
  const page = await browser.newPage();
  await page.goto(site.url);
  await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: 600_000 });
  const ready = await page.evaluate(() => performance.now());
  const paint = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('paint').map((e) => [e.name, e.startTime])));
  samples.first_paint.push(paint['first-paint']);
  samples.first_contentful_paint.push(paint['first-contentful-paint']);
  samples.ready.push(ready);
  // Everything the load fetches, whatever the page would fetch by itself once ready included
  // (until `1938361` the worker prefetched the default preset's shipped trace, 434 KB; it is
  // now fetched by the first Run): counted once nothing more has come for a second.
  for (let last = -1; last !== site.transferred.bytes;) {
    last = site.transferred.bytes;
    await page.waitForTimeout(1000);
  }
  samples.all_in_gzip_bytes.push(site.transferred.bytes - bytes);
  await page.close();
}
await browser.close();
site.server.close();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`# ${dist}, ${loads} loads`);
const wasmJs = Object.entries(site.transferred.files).filter(([f]) => /\.(wasm|js)$/.test(f));
for (const [f, b] of wasmJs) console.log(`MEASURE first_load_file ${f} = ${b} bytes (gzip)`);
console.log(`MEASURE first_load_wasm_js_gzip = ${wasmJs.reduce((s, [, b]) => s + b, 0)} bytes`);
for (const [name, xs] of Object.entries(samples)) {
  const unit = name.endsWith('bytes') ? 'bytes' : 'ms';
  console.log(`MEASURE first_load_${name} = ${Math.round(median(xs))} ${unit} (median; ${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))})`);
}
