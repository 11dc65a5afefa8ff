// What every end-to-end test file shares: the paths, one headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core) and one static server of dist/ per test file,
// and the steps a user takes (open the page, wait for the worker, run, download).
//
// E2E_DIST serves another build of the page (e.g. one made before a fix, to see a test fail).

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST = process.env.E2E_DIST ?? path.join(ROOT, 'dist');
export const ARTIFACTS = process.env.E2E_ARTIFACTS ?? path.join(ROOT, 'target/e2e-artifacts');
export const SHARED = process.env.LLMSIM_SHARED_DIR ?? path.join(ROOT, '../shared');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const LONG = 600_000; // generous ceilings on 2 shared cores; the MEASURE lines say what it took

/** The browser and the server of the current test file (set by `useBrowser`). */
export const ctx = { browser: null, site: null };

/** Starts the server and the browser before the file's tests and stops them after. */
export function useBrowser() {
  before(async () => {
    assert.ok(fs.existsSync(path.join(DIST, 'index.html')), `${DIST} is missing: run \`trunk build --release\` first`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    ctx.site = await serve(DIST);
    ctx.browser = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'llmsim-e2e-')), {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      viewport: { width: 1280, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
    });
  });
  after(async () => {
    await ctx.browser?.close();
    ctx.site?.server.close();
  });
}

export function measure(name, value, unit) {
  console.log(`MEASURE ${name} = ${value} ${unit}`);
}

/** Collects the page's errors in `page.problems`: page errors, console errors and failed loads.
 *  A failed load is recorded with its URL (the console's "Failed to load resource" names none). */
export function recordProblems(page) {
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  // The favicon is left out: Chromium asks for /favicon.ico when it shows the worker loader in
  // `open` (a text document has no <link rel=icon>), and that 404 can reach the console after
  // this listener is attached; the page itself declares an empty icon and never asks for it.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) page.problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && new URL(r.url()).pathname !== '/favicon.ico') page.problems.push(`http ${r.status()}: ${r.url()}`);
  });
}

/** The worker's loader script in DIST: `worker_loader-<hash>.js` (scripts/hash-worker.sh renames
 *  Trunk's `worker_loader.js` by its content). */
export function workerLoader() {
  const found = fs.readdirSync(DIST).filter((f) => /^worker_loader(-[0-9a-f]{16})?\.js$/.test(f));
  assert.equal(found.length, 1, `one worker loader in ${DIST}, found ${JSON.stringify(found)}`);
  return found[0];
}

/** A fresh page that records console errors and page errors; `deviceScaleFactor` emulates a
 *  high-DPI screen (devicePixelRatio) from the start. The runs an earlier test kept in the
 *  browser's storage are cleared first (`keepRuns` keeps them), so each test starts as a first
 *  visit does. */
export async function open(url = ctx.site.url, { deviceScaleFactor, keepRuns = false } = {}) {
  const page = await ctx.browser.newPage();
  if (!keepRuns) {
    // Any document of the site's origin reaches its storage; a small script shown as text
    // loads no app.
    await page.goto(`${ctx.site.url}${workerLoader()}`);
    await page.evaluate(() => localStorage.clear());
  }
  recordProblems(page);
  if (deviceScaleFactor) {
    const cdp = await ctx.browser.newCDPSession(page);
    await cdp.send('Emulation.setDeviceMetricsOverride', { width: 1280, height: 800, deviceScaleFactor, mobile: false });
  }
  await page.goto(url);
  return page;
}

/** Why the page is stuck, for failure messages. */
export async function diagnose(page) {
  const progress = await page.locator('[data-testid=progress]').innerText().catch(() => '?');
  const errors = await page.locator('[data-testid=error]').allInnerTexts().catch(() => []);
  return `progress: ${progress}; errors: ${JSON.stringify(errors)}; problems: ${JSON.stringify(page.problems)}`;
}

export async function ready(page) {
  await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: LONG })
    .catch(async (e) => { throw new Error(`worker never got ready: ${e.message}; ${await diagnose(page)}`); });
}

export async function runCount(page) {
  return page.locator('[data-testid=runs] tbody tr').count();
}

/** Waits until the session has `n` runs and shows one (or a comparison); returns ms waited. */
export async function waitForRuns(page, n) {
  const t0 = Date.now();
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=runs] tbody tr').length >= n, n, { timeout: LONG })
    .catch(async (e) => { throw new Error(`run did not finish: ${e.message}; ${await diagnose(page)}`); });
  // A run's view shows its summary; a pair run as A/B shows the comparison instead.
  await page.waitForSelector('[data-testid=summary], [data-testid=ab-diff]');
  return Date.now() - t0;
}

/** Presses Run and waits for the summary; returns ms from the click to the summary. */
export async function run(page) {
  const before = await runCount(page);
  const t0 = Date.now();
  await page.click('[data-testid=run]');
  await waitForRuns(page, before + 1);
  return Date.now() - t0;
}

/** Types `value` into the field of `flag` and leaves it (its `change` event fires). */
export async function setField(page, flag, value) {
  await page.fill(`[name=${flag}]`, value);
  await page.press(`[name=${flag}]`, 'Tab');
}

/** Non-white pixels of a canvas. */
export async function inkedPixels(page, testid) {
  return page.$eval(`[data-testid=${testid}]`, (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) n++;
    return n;
  });
}

/** Pixels of a canvas within a small distance of the colour `[r, g, b]`. */
export async function pixelsOfColour(page, testid, [r, g, b]) {
  return page.$eval(`[data-testid=${testid}]`, (c, [r, g, b]) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < 60) n++;
    return n;
  }, [r, g, b]);
}

// The charts' first two colours (web/src/charts/mod.rs PALETTE): run A's line and run B's.
export const COLOUR_A = [31, 119, 180];
export const COLOUR_B = [255, 127, 14];

/** Clicks the download button of `name` and returns the file's text. */
export async function download(page, name) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(`[data-testid="download-${name}"]`)]);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'llmsim-dl-')), name);
  await dl.saveAs(file);
  return fs.readFileSync(file, 'utf8');
}

export async function visibleErrors(page) {
  return page.locator('[data-testid=error]:visible').allInnerTexts();
}

/** A file of `../shared/traces`, or `undefined` after skipping the test visibly when it is
 *  absent (a failure when LLMSIM_REQUIRE_SHARED is set). */
export function sharedTrace(t, name) {
  const file = path.join(SHARED, 'traces', name);
  if (fs.existsSync(file)) return file;
  assert.ok(!process.env.LLMSIM_REQUIRE_SHARED, `LLMSIM_REQUIRE_SHARED is set but ${file} is missing`);
  t.skip(`${file} not found (../shared is absent outside the workplace)`);
  return undefined;
}

/** Writes a Vidur CSV trace of `n` requests a quarter of a second apart into a fresh
 *  directory; returns its path. */
export function writeTrace(name, n = 40, { prompt = 200 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsim-trace-'));
  const file = path.join(dir, name);
  const rows = Array.from({ length: n }, (_, i) => `${(i * 0.25).toFixed(2)},${prompt + 10 * (i % 50)},${5 + (i % 7)}`);
  fs.writeFileSync(file, `arrived_at,num_prefill_tokens,num_decode_tokens\n${rows.join('\n')}\n`);
  return file;
}
