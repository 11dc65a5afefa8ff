// The page as a new user finds it (issue 14): one test per defect found by trying the page as a
// new user would (mouse, keyboard only, a 390 px phone, real traces from ../shared/traces), each
// written before its fix and seen failing on the page as it was.
//
// Run: `node --test tests/e2e/` after `trunk build --release` (E2E_DIST=<dir> tests another build).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ARTIFACTS, LONG, ctx, diagnose, download, inkedPixels, open, pixelsOfColour, ready, run, runCount, setField,
  sharedTrace, useBrowser, waitForRuns, writeTrace,
} from './helpers.mjs';

useBrowser();

const LENGTHS = 'trace_request_length_generator_config_trace_file';
const REPLAY = 'trace_request_generator_config_trace_file';

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** The accessible names of the result charts. */
async function chartLabels(page) {
  return page.$$eval('.charts canvas', (cs) => cs.filter((c) => c.offsetParent !== null).map((c) => c.getAttribute('aria-label')));
}

test('1. a share link refuses a trace that differs from its own until the user confirms it, saying what differs', async (t) => {
  const conv = sharedTrace(t, 'splitwise_conv.csv');
  const code = conv && sharedTrace(t, 'splitwise_code.csv');
  if (!code) return;
  const size = fs.statSync(conv).size;
  const query = new URLSearchParams({
    request_generator_config_type: 'trace',
    [REPLAY]: 'splitwise_conv.csv',
    trace_request_generator_config_num_requests: '40',
    replica_config_device: 'h100',
    replica_config_network_device: 'h100_dgx',
  }).toString() + `&_file=${size}:${sha256(conv)}:splitwise_conv.csv`;
  const page = await open(`${ctx.site.url}?${query}`);
  await ready(page);
  assert.match(await page.locator('[data-testid=needs-file]').innerText(), /splitwise_conv\.csv/);
  await page.setInputFiles('[data-testid=trace-upload]', code);
  const mismatch = page.locator('[data-testid=link-mismatch]');
  await mismatch.waitFor({ timeout: 20_000 }).catch(async () => {
    throw new Error(`no mismatch is said; runs: ${await runCount(page)}; ${await diagnose(page)}`);
  });
  const said = await mismatch.innerText();
  console.log(`mismatch: ${said}`);
  assert.match(said, /splitwise_code\.csv/);
  assert.match(said, /name/);
  assert.match(said, /size/);
  assert.match(said, /SHA-256/);
  await page.waitForTimeout(1500);
  assert.equal(await runCount(page), 0, 'a file that differs from the link\'s does not run by itself');
  await page.screenshot({ path: path.join(ARTIFACTS, 'link-mismatch-1280x800.png') });

  // The right file runs, and its link carries its own name, size and hash.
  await page.setInputFiles('[data-testid=trace-upload]', conv);
  await waitForRuns(page, 1);
  assert.equal(await page.locator('[data-testid=link-mismatch]').count(), 0);
  const href = await page.getAttribute('[data-testid=share-link]', 'href');
  assert.ok(href.includes(`_file=${size}:${sha256(conv)}:splitwise_conv.csv`), href);

  // Confirming the other file uses it under its own name, and the new link says so.
  const other = await open(`${ctx.site.url}?${query}`);
  await ready(other);
  await other.setInputFiles('[data-testid=trace-upload]', code);
  await other.click('[data-testid=use-mismatched]');
  await waitForRuns(other, 1);
  assert.equal(await other.inputValue(`[name=${REPLAY}]`), 'splitwise_code.csv');
  const otherHref = await other.getAttribute('[data-testid=share-link]', 'href');
  assert.ok(otherHref.includes(`_file=${fs.statSync(code).size}:${sha256(code)}:splitwise_code.csv`), otherHref);
  assert.deepEqual([...page.problems, ...other.problems], []);
  await page.close();
  await other.close();
});

test('2. a run\'s view shows that run only; the A/B comparison is a view the user asks for, labelled throughout', async () => {
  const page = await open();
  await ready(page);
  await setField(page, 'synthetic_request_generator_config_num_requests', '32');
  for (const seed of ['1', '2', '3']) {
    await setField(page, 'seed', seed);
    await run(page);
  }
  // Run #3 is shown alone: nothing is compared until asked.
  assert.equal(await page.locator('[data-testid=ab-diff]').count(), 0, 'consecutive runs are not compared by themselves');
  for (const label of await chartLabels(page)) assert.match(label, /Run #3\b/, `every chart names its run: ${label}`);
  assert.match(await page.locator('[data-testid=view-title]').innerText(), /Run #3/);

  // A = #1, B = #2, then Compare: every table and chart is about #1 and #2.
  await page.check('[aria-label="A: run 1"]');
  await page.check('[aria-label="B: run 2"]');
  assert.equal(await page.locator('[data-testid=ab-diff]').count(), 0, 'picking A and B alone does not switch the view');
  await page.click('[data-testid=compare]');
  await page.waitForSelector('[data-testid=ab-diff]');
  assert.match(await page.locator('[data-testid=view-title]').innerText(), /#1.*#2/);
  assert.equal(await page.locator('[data-testid=summary]').count(), 0, 'no single run\'s summary sits beside the comparison');
  for (const label of await chartLabels(page)) assert.match(label, /#1\b.*#2\b|A \(#1\).*B \(#2\)/, `every chart names both runs: ${label}`);
  assert.equal(await page.locator('[data-testid=share-link]').count(), 2, 'a share link for each side');
  await page.screenshot({ path: path.join(ARTIFACTS, 'ab-compare-1280x800.png') });
  await page.screenshot({ path: path.join(ARTIFACTS, 'ab-compare-1280-full.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(ARTIFACTS, 'ab-compare-390-full.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  // Showing one run leaves the comparison.
  await page.click('[data-testid=runs] button.linkish >> text="#3"');
  await page.waitForSelector('[data-testid=summary]');
  assert.equal(await page.locator('[data-testid=ab-diff]').count(), 0);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('3. the trace length generator reads the shipped trace; a refused run\'s banner leads to its one error', async () => {
  const page = await open();
  await ready(page);
  await page.selectOption('[data-testid=preset]', 'closed-loop-benchmark');
  await page.selectOption('[name=length_generator_config_type]', 'trace');
  assert.equal(await page.inputValue(`[name=${LENGTHS}]`), 'data/traces/conversation_synth.csv', 'a file the page ships');
  await run(page);
  assert.deepEqual(await page.locator('[data-testid=error]:visible').allInnerTexts(), []);

  // A file nobody gave: one error at the field, and the banner's link takes the focus there.
  await setField(page, LENGTHS, 'nowhere/lengths.csv');
  await page.click('[data-testid=run]');
  const banner = page.locator('.runbar [data-testid=error]').first();
  await banner.waitFor();
  const fieldErrors = await page.locator(`#field-${LENGTHS} [data-testid=error]`).allInnerTexts();
  assert.equal(fieldErrors.length, 1, `one error at the field: ${JSON.stringify(fieldErrors)}`);
  const { scroll, client } = await page.$eval(`#field-${LENGTHS} [data-testid=error]`, (e) => ({ scroll: e.scrollWidth, client: e.clientWidth }));
  assert.ok(scroll <= client, `the error is not clipped: ${scroll} > ${client}`);
  await page.click('.runbar [data-testid=error-link]');
  await page.waitForFunction((flag) => document.activeElement?.name === flag, LENGTHS, { timeout: 5000 })
    .catch(async () => { throw new Error(`the banner does not lead to the field: focus on ${await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 80))}`); });
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('4. an empty "Num requests" means none (the duration decides), as its placeholder says', async () => {
  const page = await open();
  await ready(page);
  const flag = 'synthetic_request_generator_config_num_requests';
  await setField(page, flag, '');
  assert.equal(await page.getAttribute(`[name=${flag}]`, 'placeholder'), 'none');
  await setField(page, 'synthetic_request_generator_config_duration', '30');
  await run(page);
  const summary = JSON.parse(await download(page, 'summary.json'));
  assert.ok(summary.num_requests > 180 && summary.num_requests < 300, `8 req/s for 30 s, not 128: ${summary.num_requests}`);
  // An emptied field that has a default shows that default as its placeholder, and runs it.
  await setField(page, 'seed', '');
  assert.equal(await page.getAttribute('[name=seed]', 'placeholder'), '42');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('5. choosing a device picks its node, unless the user chose another node', async () => {
  const page = await open();
  await ready(page);
  assert.equal(await page.inputValue('[name=replica_config_network_device]'), 'h100_dgx');
  await setField(page, 'replica_config_device', 'h200');
  assert.equal(await page.inputValue('[name=replica_config_network_device]'), 'h200_dgx');
  await setField(page, 'synthetic_request_generator_config_num_requests', '16');
  await run(page);
  const warnings = await page.locator('.run-view .warning').allInnerTexts();
  assert.ok(!warnings.some((w) => /network device/.test(w)), JSON.stringify(warnings));
  // A node set on purpose stays.
  await setField(page, 'replica_config_network_device', 'h100_pairwise_nvlink');
  await setField(page, 'replica_config_device', 'b200');
  assert.equal(await page.inputValue('[name=replica_config_network_device]'), 'h100_pairwise_nvlink');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('6. an overloaded run says so: offered against achieved rate', async () => {
  const page = await open();
  await ready(page);
  await page.selectOption('[data-testid=preset]', 'llama3-70b-tp4');
  await setField(page, 'gamma_request_interval_generator_config_qps', '20');
  await run(page);
  const load = await page.locator('[data-testid=load]').innerText();
  console.log(load);
  const rates = (text) => ['Offered', 'Achieved'].map((name) => Number(new RegExp(`${name}[^\\d]*([\\d.,]+) req/s`).exec(text)?.[1].replace(/,/g, '')));
  const [offered, achieved] = rates(load);
  assert.ok(offered > 15, `offered ${offered}`);
  assert.ok(achieved < 0.8 * offered, `achieved ${achieved} is well below offered ${offered}`);
  assert.match(load, /more than the cluster serves/i);
  await page.screenshot({ path: path.join(ARTIFACTS, 'overload-1280x800.png') });
  // A healthy run achieves about what it is offered.
  await page.selectOption('[data-testid=preset]', 'quick-start');
  await run(page);
  const healthy = await page.locator('[data-testid=load]').innerText();
  console.log(healthy);
  const [o2, a2] = rates(healthy);
  assert.ok(a2 > 0.85 * o2 && a2 <= 1.15 * o2, `healthy: achieved ${a2} of offered ${o2}`);
  assert.doesNotMatch(healthy, /more than the cluster serves/i);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('7. an upload shows what the run takes from it, as a choice', async () => {
  const file = writeTrace('my_trace.csv');
  const page = await open();
  await ready(page);
  await page.setInputFiles('[data-testid=trace-upload]', file);
  await page.waitForSelector('[data-testid=trace-summary]', { timeout: LONG });
  const mode = page.locator('[data-testid=trace-mode]');
  assert.ok(await mode.locator('input[value=lengths]').isChecked(), 'the quick start takes its lengths');
  await mode.locator('input[value=replay]').check();
  assert.equal(await page.inputValue('[name=request_generator_config_type]'), 'trace');
  assert.equal(await page.inputValue(`[name=${REPLAY}]`), 'my_trace.csv');
  await mode.locator('input[value=arrivals]').check();
  assert.equal(await page.inputValue('[name=request_generator_config_type]'), 'synthetic');
  assert.equal(await page.inputValue('[name=interval_generator_config_type]'), 'trace');
  assert.equal(await page.inputValue('[name=trace_request_interval_generator_config_trace_file]'), 'my_trace.csv');
  await mode.locator('input[value=replay]').check();
  await page.screenshot({ path: path.join(ARTIFACTS, 'trace-upload-1280x800.png') });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator('[data-testid=trace-mode]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(ARTIFACTS, 'trace-upload-390x844.png') });
  await page.setViewportSize({ width: 1280, height: 800 });
  await run(page);
  assert.equal(JSON.parse(await download(page, 'summary.json')).num_completed, 40);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('8. a rejected upload keeps the last good trace and says why the new one was rejected', async () => {
  const good = writeTrace('good.csv');
  const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'llmsim-bad-')), 'bad.csv');
  fs.writeFileSync(bad, 'arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,100,10\n0.5,12x,10\n');
  const page = await open();
  await ready(page);
  await page.setInputFiles('[data-testid=trace-upload]', good);
  await page.waitForSelector('[data-testid=trace-summary]', { timeout: LONG });
  await page.setInputFiles('[data-testid=trace-upload]', bad);
  const rejected = page.locator('[data-testid=upload-rejected]');
  await rejected.waitFor({ timeout: 30_000 }).catch(async () => { throw new Error(`no rejection shown; ${await diagnose(page)}`); });
  const text = await rejected.innerText();
  assert.match(text, /bad\.csv/);
  assert.match(text, /row 3/);
  assert.match(text, /good\.csv/);
  assert.equal(await page.inputValue(`[name=${LENGTHS}]`), 'good.csv', 'the field still reads the good trace');
  await run(page);
  assert.equal(JSON.parse(await download(page, 'summary.json')).num_completed, 128);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('9. after a refused run nothing looks current: the status says refused, the old results say whose they are', async () => {
  const page = await open();
  await ready(page);
  await setField(page, 'synthetic_request_generator_config_num_requests', '16');
  await run(page);
  assert.match(await page.locator('[data-testid=progress]').innerText(), /Run #1 finished/);
  await setField(page, 'cluster_config_num_replicas', '0');
  await page.click('[data-testid=run]');
  await page.waitForSelector('.runbar [data-testid=error]');
  await page.waitForSelector('[data-testid=run]:not([disabled])');
  const progress = await page.locator('[data-testid=progress]').innerText();
  assert.doesNotMatch(progress, /Run #1 finished/);
  assert.match(progress, /refused/i);
  assert.match(await page.locator('[data-testid=stale]').innerText(), /run #1/i);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('10. Cancel stops the run without restarting the simulator or reading the uploads again', async () => {
  // A trace big enough that reading it again would show (about 12 MB).
  const file = writeTrace('big_trace.csv', 400_000);
  const page = await open();
  const workers = [];
  page.on('worker', (w) => workers.push(w.url()));
  await ready(page);
  await page.setInputFiles('[data-testid=trace-upload]', file);
  await page.waitForSelector('[data-testid=trace-summary]', { timeout: LONG });
  const parsed = await page.locator('[data-testid=trace-summary]').innerText();
  await setField(page, 'synthetic_request_generator_config_num_requests', '2000000');
  await page.click('[data-testid=run]');
  await page.waitForFunction(() => document.querySelector('[data-testid=progress]')?.textContent.includes('requests done'), null, { timeout: LONG });
  const t0 = Date.now();
  await page.click('[data-testid=cancel]');
  await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: LONG });
  await page.waitForTimeout(1000);
  console.log(`Run enabled ${Date.now() - t0} ms after Cancel`);
  assert.equal(workers.length, 1, `Cancel keeps the one worker: ${JSON.stringify(workers)}`);
  assert.equal(await page.locator('[data-testid=trace-summary]').innerText(), parsed, 'the trace is not read again');
  await setField(page, 'synthetic_request_generator_config_num_requests', '64');
  await run(page);
  assert.match(await page.getAttribute('[data-testid=share-link]', 'href'), /_file=\d+:[0-9a-f]{64}:big_trace\.csv/);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('11. keyboard only: focus stays on the page after a run, file inputs show focus, downloads are near', async () => {
  const page = await open();
  await ready(page);
  await setField(page, 'synthetic_request_generator_config_num_requests', '16');
  await page.focus('[data-testid=run]');
  await page.keyboard.press('Enter');
  await waitForRuns(page, 1);
  await page.waitForSelector('[data-testid=run]:not([disabled])');
  await page.waitForFunction(() => document.activeElement && document.activeElement !== document.body, null, { timeout: 5000 })
    .catch(() => {});
  assert.notEqual(await page.evaluate(() => document.activeElement?.tagName), 'BODY', 'focus does not fall to <body>');
  let tabs = 0;
  while (tabs < 60) {
    tabs++;
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement?.dataset?.testid?.startsWith('download-'))) break;
  }
  console.log(`first download is ${tabs} Tab presses after the run`);
  assert.ok(tabs <= 8, `the first download is ${tabs} Tab presses away`);
  // A file input focused by keyboard shows where the focus is.
  await page.focus('[data-testid=trace-upload]');
  const outline = await page.$eval('[data-testid=trace-upload]', (input) => {
    const shown = input.closest('label');
    const s = getComputedStyle(shown);
    return `${s.outlineStyle} ${s.outlineWidth}`;
  });
  assert.doesNotMatch(outline, /^none|\b0px/, `the focused file input's label shows focus: ${outline}`);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('12. the runs table compares runs: distinct labels, more columns, sorting, export, kept over reload, deletable', async () => {
  const page = await open();
  await ready(page);
  await setField(page, 'synthetic_request_generator_config_num_requests', '24');
  await run(page);
  await setField(page, 'replica_config_network_device', 'h100_pairwise_nvlink');
  await run(page);
  const labels = await page.$$eval('[data-testid=runs] tbody tr td.label', (tds) => tds.map((td) => td.textContent));
  assert.equal(labels.length, 2);
  assert.notEqual(labels[0], labels[1], `runs that differ have different labels: ${JSON.stringify(labels)}`);
  const headers = await page.locator('[data-testid=runs] thead').innerText();
  for (const h of ['TTFT p90', 'TPOT p50', 'E2E p90', 'GPUs', 'Load', 'SLO']) assert.match(headers, new RegExp(h), headers);
  // Sorting by a column, both ways.
  await page.click('[data-testid=runs] thead button >> text=Run');
  const order = async () => page.$$eval('[data-testid=runs] tbody tr', (rows) => rows.map((r) => r.querySelector('td').textContent.trim()));
  const first = await order();
  await page.click('[data-testid=runs] thead button >> text=Run');
  assert.deepEqual(await order(), [...first].reverse());
  // Export.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-runs]')]);
  const csv = fs.readFileSync(await dl.path(), 'utf8');
  assert.equal(csv.trim().split('\n').length, 3, csv);
  assert.match(csv.split('\n')[0], /TTFT p90/);
  // Kept over a reload, and deletable.
  await page.reload();
  await ready(page);
  assert.equal(await runCount(page), 2, 'runs are kept in the browser');
  await page.click('[aria-label="Delete run 1"]');
  assert.equal(await runCount(page), 1);
  page.once('dialog', (d) => d.accept());
  await page.click('[data-testid=delete-all-runs]');
  assert.equal(await runCount(page), 0);
  await page.reload();
  await ready(page);
  assert.equal(await runCount(page), 0, 'deleted runs stay deleted');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('13. the default scenario runs clean: no warning on the first run', async () => {
  const page = await open();
  await ready(page);
  await run(page);
  assert.deepEqual(await page.locator('.run-view .warning').allInnerTexts(), []);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('14. choosing a preset can be undone', async () => {
  const file = writeTrace('mine.csv');
  const page = await open();
  await ready(page);
  await setField(page, 'seed', '5');
  await page.setInputFiles('[data-testid=trace-upload]', file);
  await page.waitForSelector('[data-testid=trace-summary]', { timeout: LONG });
  await page.selectOption('[data-testid=preset]', 'llama3-70b-tp4');
  assert.equal(await page.inputValue('[name=replica_config_model_name]'), 'meta-llama/Meta-Llama-3-70B');
  await page.click('[data-testid=undo-preset]');
  assert.equal(await page.inputValue('[name=seed]'), '5');
  assert.equal(await page.inputValue(`[name=${LENGTHS}]`), 'mine.csv');
  assert.equal(await page.locator('[data-testid=trace-summary]').count(), 1, 'the uploaded trace is still used');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('15. polish: thousands separators, device names in any case', async () => {
  const page = await open();
  await ready(page);
  await setField(page, 'replica_config_device', 'H100');
  assert.deepEqual(await page.locator('#field-replica_config_device [data-testid=error]').allInnerTexts(), []);
  await run(page);
  const scalars = await page.locator('[data-testid=scalars]').innerText();
  assert.match(scalars, /Prompt tokens\s+\d{1,3}(,\d{3})+ tok\/s/, scalars);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('additions: chart read-outs, the load chart, SLO lines, and the memory per GPU before running', async () => {
  const page = await open();
  await ready(page);
  // The memory breakdown is there before any run, and follows the form.
  const memory = page.locator('[data-testid=memory]');
  // The worker's first check answers once it is ready.
  await page.waitForFunction(() => /Weights/.test(document.querySelector('[data-testid=memory]').innerText));
  const before = await memory.innerText();
  console.log(before);
  for (const part of ['Weights', 'KV cache', 'Reserve', 'tokens', 'requests']) assert.match(before, new RegExp(part), before);
  await setField(page, 'replica_config_tensor_parallel_size', '2');
  // The worker answers the check: TP2 halves the weights per GPU.
  await page.waitForFunction((b) => document.querySelector('[data-testid=memory]').innerText !== b, before);
  await memory.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(ARTIFACTS, 'memory-1280x800.png') });
  await page.setViewportSize({ width: 390, height: 844 });
  await memory.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(ARTIFACTS, 'memory-390x844.png') });
  await page.setViewportSize({ width: 1280, height: 800 });
  await setField(page, 'replica_config_tensor_parallel_size', '1');

  await run(page);
  assert.ok(await inkedPixels(page, 'chart-load') > 500, 'TTFT and queue length over time');
  await page.locator('[data-testid=chart-ttft]').scrollIntoViewIfNeeded();
  const box = await page.locator('[data-testid=chart-ttft]').boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.6);
  const readout = page.locator('[data-testid=chart-readout]');
  await readout.waitFor({ timeout: 5000 });
  assert.match(await readout.innerText(), /p\d+.*\d+(\.\d+)? (ms|s)/s);
  await page.screenshot({ path: path.join(ARTIFACTS, 'default-run-1280x800.png') });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(ARTIFACTS, 'default-run-390x844.png') });
  await page.screenshot({ path: path.join(ARTIFACTS, 'default-run-390-full.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  // An objective on TTFT is drawn on its CDF, and the runs table says whether it held.
  const SLO_COLOUR = [148, 103, 189];
  assert.ok(await pixelsOfColour(page, 'chart-ttft', SLO_COLOUR) < 20, 'no objective, no line');
  await setField(page, 'slo_config_ttft_max_s', '0.5');
  await run(page);
  assert.ok(await pixelsOfColour(page, 'chart-ttft', SLO_COLOUR) > 50, 'the TTFT objective is a line on the CDF');
  const sloCells = await page.$$eval('[data-testid=runs] tbody tr', (rows) => rows.map((r) => r.innerText));
  assert.match(sloCells.at(-1), /\b(met|missed)\b/, sloCells.at(-1));
  assert.match(await page.locator('[data-testid=runs] thead').innerText(), /SLO/);
  assert.deepEqual(page.problems, []);
  await page.close();
});
