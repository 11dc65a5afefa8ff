// End-to-end test of the "Plan capacity" view (web/src/app/plan) in headless Chromium: a small
// search is started, shows progress, is cancelled; started again, runs to the end on a pool of
// workers; its table sorts, exports search.csv and draws the Pareto chart; a row opens as a
// normal run; the share link restores the spec. The same spec on 1 and 2 workers gives the same
// table; the wall times are printed as MEASURE lines (BENCHMARKS.md), never asserted.
//
// Run: `node --test tests/e2e/` after `trunk build --release`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';
import { recordProblems } from './helpers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = path.join(ROOT, 'dist');
const ARTIFACTS = process.env.E2E_ARTIFACTS ?? path.join(ROOT, 'target/e2e-artifacts');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const LONG = 600_000; // generous ceilings on 2 shared cores; the MEASURE lines say what it took

let browser;
let site;

function measure(name, value, unit) {
  console.log(`MEASURE ${name} = ${value} ${unit}`);
}

before(async () => {
  assert.ok(fs.existsSync(path.join(DIST, 'index.html')), `${DIST} is missing: run \`trunk build --release\` first`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  site = await serve(DIST);
  browser = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'llmsim-e2e-plan-')), {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  await browser?.close();
  site?.server.close();
});

async function open(url) {
  const page = await browser.newPage();
  recordProblems(page);
  await page.goto(url);
  return page;
}

const status = (page) => page.locator('[data-testid=plan-status]').innerText();

async function waitForState(page, state) {
  await page.waitForSelector(`[data-testid=plan-status][data-state="some(${state})"]`, { timeout: LONG })
    .catch(async (e) => { throw new Error(`search never got ${state}: ${e.message}; status: ${await status(page).catch(() => '?')}; ${JSON.stringify(page.problems)}`); });
}

/** The table's text, row by row. */
async function tableRows(page) {
  return page.locator('[data-testid=plan-table] tbody tr').allInnerTexts();
}

/** Sets the plan form to the small search of these tests. */
async function smallSearch(page, { requests = '100', granularity = '0.2' } = {}) {
  await page.check('[data-testid="plan-node-h100_dgx"]');
  await page.check('[data-testid="plan-node-h200_dgx"]');
  await page.fill('[data-testid=plan-tp]', '1, 2');
  await page.fill('[data-testid=plan-num-requests]', requests);
  await page.fill('[data-testid=plan-granularity]', granularity);
}

/** Starts the form's search and waits for its end; returns ms from the click. */
async function searchToTheEnd(page) {
  const t0 = Date.now();
  await page.click('[data-testid=plan-start]');
  await waitForState(page, 'finished');
  return Date.now() - t0;
}

test('plan capacity: errors at fields, progress, cancel, finish, sort, CSV, Pareto, open a row, share link', async () => {
  const page = await open(site.url);
  await page.click('[data-testid=plan-tab]');
  await page.waitForSelector('[data-testid=plan-view]');
  assert.equal(await page.locator('main.layout').isVisible(), false, 'the single run is hidden while planning');

  // The engine validates the spec as it is typed; the error is at its field.
  await page.fill('[data-testid=plan-tp]', '1, two');
  await page.waitForSelector('[data-testid=plan-error-tp]');
  assert.match(await page.locator('[data-testid=plan-error-tp]').innerText(), /replica_config_tensor_parallel_size\[1\]/);
  assert.ok(await page.locator('[data-testid=plan-start]').isDisabled());

  // A longer search, cancelled once it has made progress.
  await smallSearch(page, { requests: '1500', granularity: '0.02' });
  assert.equal(await page.locator('[data-testid=plan-error-tp]').count(), 0);
  assert.match(await page.locator('[data-testid=plan-start]').innerText(), /Search 4 configurations/);
  await page.click('[data-testid=plan-start]');
  await page.waitForFunction(() => /[1-9]\d* simulations/.test(document.querySelector('[data-testid=plan-status]').innerText), null, { timeout: LONG });
  await page.click('[data-testid=plan-cancel]');
  await waitForState(page, 'cancelled');
  const cancelled = await status(page);
  await page.waitForTimeout(500);
  assert.equal(await status(page), cancelled, 'nothing runs after Cancel');
  assert.ok(await page.locator('[data-testid=plan-start]').isEnabled());

  // The small search, to the end.
  await smallSearch(page);
  const ms = await searchToTheEnd(page);
  measure('plan_small_search_default_workers', ms, 'ms (4 configurations, 100 requests per point)');
  console.log('status:', await status(page));
  const rows = await tableRows(page);
  assert.equal(rows.length, 4);
  assert.ok(rows.some((r) => /\byes\b/.test(r)), `a feasible configuration: ${rows.join(' | ')}`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'plan-1280.png'), fullPage: true });

  // Sort by max QPS, highest first.
  const headers = await page.locator('[data-testid=plan-table] thead th').allInnerTexts();
  const qpsColumn = headers.indexOf('max QPS');
  assert.ok(qpsColumn >= 0, headers.join(','));
  await page.locator('[data-testid=plan-table] thead th').nth(qpsColumn).click();
  const qps = await page.$$eval('[data-testid=plan-table] tbody tr', (trs, i) => trs.map((tr) => tr.children[i].innerText), qpsColumn);
  const numbers = qps.filter((q) => q !== '').map(Number);
  assert.deepEqual(numbers, [...numbers].sort((a, b) => b - a), `sorted: ${qps}`);

  // search.csv, as the CLI writes it.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=plan-csv]')]);
  const csv = fs.readFileSync(await dl.path(), 'utf8');
  assert.match(csv, /^configuration,.*feasible,max_qps,replicas,gpus,cost_per_hour/);
  assert.equal(csv.trim().split('\n').length, 5);

  // The Pareto chart has the feasible, priced configurations.
  const points = Number(await page.getAttribute('[data-testid=plan-pareto]', 'data-points'));
  assert.ok(points >= 1, `${points} points on the Pareto chart`);

  // The share link reopens the view with the spec.
  const link = await page.getAttribute('[data-testid=plan-link]', 'href');
  const shared = await open(link);
  await shared.waitForSelector('[data-testid=plan-view]');
  assert.equal(await shared.inputValue('[data-testid=plan-tp]'), '1, 2');
  assert.equal(await shared.inputValue('[data-testid=plan-num-requests]'), '100');
  assert.ok(await shared.isChecked('[data-testid="plan-node-h200_dgx"]'));
  assert.match(await shared.locator('[data-testid=plan-link-base]').innerText(), /shared link/);
  assert.match(await shared.locator('[data-testid=plan-start]').innerText(), /Search 4 configurations/);
  await shared.close();

  // A row opens as a normal run at its chosen rate.
  const feasible = page.locator('[data-testid=plan-table] tbody tr.feasible').first();
  const openButton = feasible.locator('button');
  await openButton.click();
  await page.waitForSelector('main.layout', { state: 'visible' });
  await page.waitForSelector('[data-testid=summary]', { timeout: LONG });
  assert.match(page.url(), /poisson_request_interval_generator_config_qps=/);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('plan capacity: the same table on 1 and 2 workers (MEASURE wall times)', async () => {
  for (const requests of ['300', '1000']) {
    const page = await open(site.url);
    await page.click('[data-testid=plan-tab]');
    await smallSearch(page, { requests, granularity: '0.05' });
    const link = await page.getAttribute('[data-testid=plan-link]', 'href');
    await page.close();
    const tables = [];
    for (const workers of [1, 2]) {
      const p = await open(`${link}&_workers=${workers}`);
      await p.waitForSelector('[data-testid=plan-view]');
      const ms = await searchToTheEnd(p);
      const line = await status(p);
      measure(`plan_search_4_configurations_${requests}_requests_${workers}_workers`, ms, `ms from the click, workers' start included (${line})`);
      assert.match(line, new RegExp(`on ${workers} workers`));
      tables.push(await tableRows(p));
      assert.deepEqual(p.problems, []);
      await p.close();
    }
    assert.deepEqual(tables[1], tables[0], 'the table does not depend on the number of workers');
  }
});
