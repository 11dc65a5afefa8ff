// End-to-end tests of the built page (dist/) in real headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core). They serve dist/ themselves, click through the
// page as a user would, save screenshots under target/e2e-artifacts/ and print measurements
// (lines starting with MEASURE) instead of asserting on times.
//
// Run: scripts/test.sh (builds dist/ first), or `node --test tests/e2e/` after `trunk build --release`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { serve } from './serve.mjs';
import {
  ARTIFACTS, COLOUR_A, COLOUR_B, DIST, LONG, ROOT, SHARED, ctx, diagnose, download, inkedPixels, measure, open,
  pixelsOfColour, ready, run, runCount, useBrowser, visibleErrors, waitForRuns, workerLoader,
} from './helpers.mjs';

const MOONCAKE = path.join(SHARED, 'traces/mooncake_conversation_trace.csv');

useBrowser();

/** Runs the native CLI on a config.json downloaded from the page; returns its summary.json. */
function nativeSummary(configJson, cwd) {
  execFileSync('cargo', ['build', '--release', '--locked', '-q', '-p', 'llmsim-cli'], { cwd: ROOT, stdio: 'inherit' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsim-native-'));
  fs.writeFileSync(path.join(dir, 'config.json'), configJson);
  const out = path.join(dir, 'out');
  const t0 = Date.now();
  execFileSync(path.join(ROOT, 'target/release/llmsim'),
    ['--config', path.join(dir, 'config.json'), '--metrics_config_output_dir', out, '--metrics_config_no_timestamp'],
    { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
  measure('native_cli_wall', Date.now() - t0, 'ms');
  return fs.readFileSync(path.join(out, 'summary.json'), 'utf8');
}

test('default preset: runs, shows the summary and charts, and matches the native CLI byte for byte', async () => {
  const before = ctx.site.transferred.bytes;
  const page = await open();
  await ready(page);
  const first = Object.entries(ctx.site.transferred.files).filter(([f]) => /\.(wasm|js)$/.test(f));
  measure('first_load_wasm_js_gzip', first.reduce((s, [, b]) => s + b, 0), 'bytes');
  measure('first_load_all_gzip', ctx.site.transferred.bytes - before, 'bytes');
  for (const [f, b] of first) measure(`first_load_file ${f}`, b, 'bytes (gzip)');
  // Paint timing of this first load (loopback, nothing cached), from the navigation's start.
  const paint = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('paint').map((e) => [e.name, e.startTime])));
  assert.ok('first-contentful-paint' in paint, `the browser reports paint timing: ${JSON.stringify(paint)}`);
  measure('first_load_first_paint', Math.round(paint['first-paint'] ?? paint['first-contentful-paint']), 'ms');
  measure('first_load_first_contentful_paint', Math.round(paint['first-contentful-paint']), 'ms');
  const nav = await page.evaluate(() => performance.getEntriesByType('navigation')[0].toJSON());
  measure('first_load_dom_content_loaded', Math.round(nav.domContentLoadedEventEnd), 'ms');
  // index.html's header painted first (above); the app's own replaces it once mounted.
  assert.equal(await page.locator('.boot').isVisible(), false, "index.html's loading header is hidden after the app mounts");
  assert.equal(await page.locator('h1:visible').count(), 1, 'one visible page title');
  measure('first_load_ready', Math.round(await page.evaluate(() => performance.now())), 'ms (the run button enabled: page mounted, worker loaded)');

  assert.equal(await page.$eval('[data-testid=preset]', (s) => s.value), 'quick-start');
  const coldMs = await run(page);
  measure('seed_preset_run_to_summary_first', coldMs, 'ms (first run of the page; the worker fetches the shipped trace first)');
  const warmMs = await run(page);
  measure('seed_preset_run_to_summary_again', warmMs, 'ms');

  const table = await page.locator('[data-testid=summary]').innerText();
  assert.match(table, /TTFT/);
  assert.match(table, /E2E latency/);
  for (const chart of ['chart-ttft', 'chart-tbt', 'chart-throughput', 'chart-e2e', 'chart-load', 'chart-batch', 'chart-kv', 'chart-replicas']) {
    const inked = await inkedPixels(page, chart);
    assert.ok(inked > 500, `${chart} has ${inked} drawn pixels`);
  }
  assert.deepEqual(await visibleErrors(page), []);
  assert.match(await page.locator('[data-testid=predictor-share]').innerText(), /%/);
  const scalars = await page.locator('[data-testid=scalars]').innerText();
  for (const label of ['Throughput', 'Preemptions', 'KV-cache usage', 'Prefix-cache hit rate']) assert.match(scalars, new RegExp(label));
  await page.screenshot({ path: path.join(ARTIFACTS, 'seed-1280x800.png') });
  await page.screenshot({ path: path.join(ARTIFACTS, 'seed-1280-full.png'), fullPage: true });
  // Two runs of the same configuration, compared when asked: no differences.
  await page.check('[aria-label="A: run 1"]');
  await page.check('[aria-label="B: run 2"]');
  await page.click('[data-testid=compare]');
  const ab = await page.locator('[data-testid=ab-diff]').innerText();
  assert.match(ab, /TTFT p50/);
  assert.match(ab, /Settings\s+identical/);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300); // charts redraw on resize
  for (const table of ['runs', 'ab-diff']) {
    const { scroll, client } = await page.$eval(`[data-testid=${table}]`, (t) => ({ scroll: t.parentElement.scrollWidth, client: t.parentElement.clientWidth }));
    assert.ok(scroll <= client, `${table} fits a 390 px wide phone without sideways scrolling: ${scroll} > ${client} px`);
  }
  await page.screenshot({ path: path.join(ARTIFACTS, 'seed-390x844.png') });
  await page.screenshot({ path: path.join(ARTIFACTS, 'seed-390-full.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.click('[data-testid=runs] button.linkish >> text="#2"');

  const summary = await download(page, 'summary.json');
  const config = await download(page, 'config.json');
  const metrics = await download(page, 'request_metrics.csv');
  const chrome = await download(page, 'chrome_trace.json');
  assert.equal(JSON.parse(summary).num_completed, 128);
  assert.equal(metrics.trim().split('\n').length, 129);
  assert.ok(JSON.parse(chrome).traceEvents.length > 0);
  const native = nativeSummary(config, ROOT);
  assert.equal(summary, native, 'summary.json from the page equals the native CLI\'s, byte for byte');
  console.log('native and browser summary.json are identical (%d bytes)', summary.length);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("the worker's files are named by their content, and the page starts that worker", async () => {
  // scripts/hash-worker.sh (Trunk's post-build hook): a cached page never meets another build's worker.
  const loader = workerLoader();
  const hash = /^worker_loader-([0-9a-f]{16})\.js$/.exec(loader)?.[1];
  assert.ok(hash, `the loader's name carries a hash: ${loader}`);
  const files = fs.readdirSync(DIST);
  assert.deepEqual(files.filter((f) => /^worker/.test(f)).sort(),
    [`worker-${hash}.js`, `worker-${hash}_bg.wasm`, loader].sort(), 'only the hashed worker files');
  const digest = crypto.createHash('sha256')
    .update(fs.readFileSync(path.join(DIST, `worker-${hash}.js`)))
    .update(fs.readFileSync(path.join(DIST, `worker-${hash}_bg.wasm`)))
    .digest('hex');
  assert.equal(digest.slice(0, 16), hash, 'the hash is of the glue and the wasm');
  const from = ctx.site.transferred.requests.length;
  const page = await open(ctx.site.url, { keepRuns: true });
  await ready(page);
  const asked = ctx.site.transferred.requests.slice(from);
  for (const f of [loader, `worker-${hash}.js`, `worker-${hash}_bg.wasm`]) {
    assert.ok(asked.includes(`/${f}`), `the page's worker loads ${f}: asked ${JSON.stringify(asked)}`);
  }
  // No request for Trunk's unhashed names (a 404 there is left out of page.problems).
  for (const f of ['/worker.js', '/worker_bg.wasm', '/worker_loader.js']) assert.ok(!asked.includes(f), `asked for ${f}`);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('a share link restores the form and reruns to the same summary', async () => {
  const page = await open();
  await ready(page);
  await page.selectOption('[data-testid=preset]', 'llama3-70b-tp4');
  await page.fill('[name=seed]', '7');
  await page.press('[name=seed]', 'Tab');
  const ms = await run(page);
  measure('llama3_70b_preset_run_to_summary', ms, 'ms');
  const href = await page.getAttribute('[data-testid=share-link]', 'href');
  assert.match(href, /replica_config_tensor_parallel_size=4/);
  assert.match(href, /seed=7/);
  assert.equal(new URL(href).search, new URL(page.url()).search, 'the address bar holds the share link');
  const summary = await download(page, 'summary.json');
  const table = await page.locator('[data-testid=summary]').innerText();

  const other = await open(href);
  await waitForRuns(other, 1); // opening the link runs it
  assert.equal(await other.locator('[data-testid=summary]').innerText(), table);
  assert.equal(await download(other, 'summary.json'), summary);
  assert.equal(await other.inputValue('[name=seed]'), '7');
  assert.equal(await other.inputValue('[name=replica_config_model_name]'), 'meta-llama/Meta-Llama-3-70B');
  assert.deepEqual([...page.problems, ...other.problems], []);
  await page.close();
  await other.close();
});

test('the 80 MB Mooncake trace uploads, parses in the worker and runs; its share link asks for the file', async (t) => {
  if (!fs.existsSync(MOONCAKE)) {
    assert.ok(!process.env.LLMSIM_REQUIRE_SHARED, `LLMSIM_REQUIRE_SHARED is set but ${MOONCAKE} is missing`);
    t.skip(`${MOONCAKE} not found (../shared is absent outside the workplace)`);
    return;
  }
  const page = await open();
  await ready(page);
  const t0 = Date.now();
  await page.setInputFiles('[data-testid=trace-upload]', MOONCAKE);
  await page.waitForSelector('[data-testid=trace-summary]', { timeout: LONG })
    .catch(async (e) => { throw new Error(`trace never loaded: ${e.message}; ${await diagnose(page)}`); });
  measure('mooncake_80MB_upload_to_summary', Date.now() - t0, 'ms (read + sha256 + parse in the worker)');
  const traceSummary = await page.locator('[data-testid=trace-summary]').innerText();
  console.log(traceSummary);
  const parsed = /Parsed in\s+([\d.]+) s/.exec(traceSummary);
  measure('mooncake_80MB_worker_read_hash_parse', parsed ? Number(parsed[1]) * 1000 : NaN, 'ms');
  assert.match(traceSummary, /Requests\s+12,031/);
  assert.match(traceSummary, /vidur_csv/);
  assert.equal(await page.inputValue('[name=trace_request_length_generator_config_trace_file]'), 'mooncake_conversation_trace.csv');
  await page.screenshot({ path: path.join(ARTIFACTS, 'mooncake-uploaded-1280x800.png') });

  const ms = await run(page);
  measure('mooncake_preset_run_to_summary', ms, 'ms');
  assert.deepEqual(await visibleErrors(page), []);
  const summary = await download(page, 'summary.json');
  assert.equal(JSON.parse(summary).num_requests, 128);
  const native = nativeSummary(await download(page, 'config.json'), path.dirname(MOONCAKE));
  assert.equal(summary, native, 'Mooncake run: page and native CLI summaries are identical');

  const href = await page.getAttribute('[data-testid=share-link]', 'href');
  assert.match(href, /_file=80030551:[0-9a-f]{64}:mooncake_conversation_trace.csv/);
  const other = await open(href);
  await ready(other);
  assert.match(await other.locator('[data-testid=needs-file]').innerText(), /mooncake_conversation_trace\.csv \(80\.0 MB/);
  await other.screenshot({ path: path.join(ARTIFACTS, 'share-link-needs-file.png') });
  await other.setInputFiles('[data-testid=trace-upload]', MOONCAKE);
  await waitForRuns(other, 1); // runs once the file is in
  assert.equal(await download(other, 'summary.json'), summary);
  assert.deepEqual([...page.problems, ...other.problems], []);
  await page.close();
  await other.close();
});

test('dist/ also works under a sub-path of another server', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsim-subpath-'));
  fs.symlinkSync(DIST, path.join(dir, 'tools-llmsim'));
  const other = await serve(dir);
  try {
    const page = await open(`${other.url}tools-llmsim/`);
    await ready(page);
    await run(page);
    assert.match(await page.getAttribute('[data-testid=share-link]', 'href'), /\/tools-llmsim\/\?/);
    assert.deepEqual(page.problems, []);
    await page.close();
  } finally {
    other.server.close();
  }
});

test('Mooncake JSONL and Azure CSV traces are detected from content and replayed', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsim-formats-'));
  const azure = path.join(dir, 'azure_conv_sample.csv');
  const rows = ['TIMESTAMP,ContextTokens,GeneratedTokens'];
  for (let i = 0; i < 40; i++) rows.push(`2023-11-16 18:15:${String(10 + i).padStart(2, '0')}.5000000,${300 + 37 * i},${20 + (i % 7) * 11}`);
  fs.writeFileSync(azure, rows.join('\n') + '\n');
  const jsonl = path.join(SHARED, 'traces/mooncake_conversation_trace.jsonl');
  const cases = [[azure, 'azure_csv', 40]];
  if (fs.existsSync(jsonl)) cases.push([jsonl, 'mooncake_jsonl', 12031]);
  else assert.ok(!process.env.LLMSIM_REQUIRE_SHARED, `${jsonl} is missing`);
  for (const [file, format, requests] of cases) {
    const page = await open();
    await ready(page);
    // A trace dropped on a synthetic workload without trace lengths switches it to replaying the trace.
    await page.selectOption('[data-testid=preset]', 'closed-loop-benchmark');
    await page.setInputFiles('[data-testid=trace-upload]', file);
    await page.waitForSelector('[data-testid=trace-summary]', { timeout: LONG });
    const summary = await page.locator('[data-testid=trace-summary]').innerText();
    assert.match(summary, new RegExp(format));
    assert.match(summary, new RegExp(`Requests\\s+${requests.toLocaleString('en-US')}\\b`));
    assert.equal(await page.inputValue('[name=request_generator_config_type]'), 'trace');
    if (requests < 1000) {
      await run(page);
      assert.equal(JSON.parse(await download(page, 'summary.json')).num_completed, requests);
    }
    assert.deepEqual(page.problems, []);
    await page.close();
  }
});

test('a malformed trace is refused with its row and column', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsim-bad-'));
  const bad = path.join(dir, 'broken_trace.csv');
  fs.writeFileSync(bad, 'arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,100,10\n0.5,12x,10\n1.0,100,10\n');
  const page = await open();
  await ready(page);
  // Dropped onto the drop zone, as a user drags it from a file manager.
  await page.evaluate((content) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([content], 'broken_trace.csv', { type: 'text/csv' }));
    document.querySelector('.dropzone').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, fs.readFileSync(bad, 'utf8'));
  // While the file is read no field calls it missing; then the parse error names it.
  const error = page.locator('[data-testid=error]', { hasText: 'broken_trace.csv' }).first();
  await error.waitFor({ timeout: LONG });
  assert.doesNotMatch(await error.innerText(), /not provided/);
  const text = await error.innerText();
  console.log(`error shown: ${text}`);
  assert.match(text, /row 3/);
  assert.match(text, /num_prefill_tokens/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'malformed-trace.png') });
  // The same file through the file picker gives the same error.
  await page.setInputFiles('[data-testid=trace-upload]', bad);
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=error]')].filter((e) => e.textContent.includes('row 3')).length >= 1);
  await page.close();
});

test('the scheduler A/B preset runs vllm_v1, then sarathi, and shows them as A and B', async () => {
  const page = await open();
  await ready(page);
  await page.selectOption('[data-testid=preset]', 'scheduler-ab');
  assert.match(await page.locator('.runbar .help').first().innerText(), /ignores prefix caching/);
  assert.ok(await page.isChecked('[data-testid=run-variant]'), 'the preset arms its B run');
  const t0 = Date.now();
  await page.click('[data-testid=run]');
  await waitForRuns(page, 2);
  await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: LONG });
  measure('scheduler_ab_pair_run_to_summary', Date.now() - t0, 'ms (both runs)');
  assert.equal(await runCount(page), 2, 'one press of Run made exactly two runs');

  const runs = await page.locator('[data-testid=runs]').innerText();
  assert.match(runs, /A: vllm_v1/);
  assert.match(runs, /B: sarathi/);
  assert.ok(await page.isChecked('[aria-label="A: run 1"]'), 'run 1 is A');
  assert.ok(await page.isChecked('[aria-label="B: run 2"]'), 'run 2 is B');
  const ab = await page.locator('[data-testid=ab-diff]').innerText();
  console.log(ab);
  assert.match(ab, /replica_scheduler_config_type\s+vllm_v1\s+sarathi/);
  assert.match(ab, /sarathi_scheduler_config_chunk_size\s+–\s+512/);
  assert.match(ab, /TTFT p50/);
  assert.doesNotMatch(ab, /cluster_config_num_replicas/, 'only the scheduler differs');
  // The pair is shown compared; B says it ignored prefix caching: its hit rate is zero while A's is not.
  assert.match((await page.locator('.compare-view .warning').allInnerTexts()).join('\n'), /^B \(#2\):.*ignored by the sarathi scheduler/m);
  assert.match(ab, /Prefix-cache hit rate\s+[1-9][\d.]* %\s+0\.0 %/);

  for (const chart of ['chart-ttft', 'chart-tbt', 'chart-e2e']) {
    const [a, b] = [await pixelsOfColour(page, chart, COLOUR_A), await pixelsOfColour(page, chart, COLOUR_B)];
    assert.ok(a > 100 && b > 100, `${chart} overlays A and B: ${a} and ${b} pixels of their colours`);
  }
  assert.ok(await inkedPixels(page, 'chart-throughput') > 500);
  // The form still holds A, ready to edit.
  assert.equal(await page.inputValue('[name=replica_scheduler_config_type]'), 'vllm_v1');
  assert.deepEqual(await visibleErrors(page), []);
  await page.screenshot({ path: path.join(ARTIFACTS, 'scheduler-ab-1280x800.png') });
  await page.locator('[data-testid=ab-diff]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(ARTIFACTS, 'scheduler-ab-diff-1280x800.png') });
  await page.screenshot({ path: path.join(ARTIFACTS, 'scheduler-ab-1280-full.png'), fullPage: true });

  // Run A's share link reopens the preset: it runs alone, with the B run offered but unticked.
  await page.click('[data-testid=runs] button.linkish >> text="#1"');
  const linkA = await page.getAttribute('[data-testid=share-link]', 'href');
  assert.doesNotMatch(linkA, /sarathi/, 'run 1 is A, vllm_v1 (the default, so not in the link)');
  const other = await open(linkA);
  await waitForRuns(other, 1);
  await other.waitForSelector('[data-testid=run]:not([disabled])', { timeout: LONG });
  assert.equal(await runCount(other), 1, 'a link runs its one configuration');
  assert.equal(await other.inputValue('[data-testid=preset]'), 'scheduler-ab');
  assert.equal(await other.isChecked('[data-testid=run-variant]'), false, 'the B run is offered, not armed');
  assert.deepEqual(other.problems, []);
  await other.close();

  // Cancel during run A stops the pair: B never starts.
  await page.selectOption('[name=request_generator_config_type]', 'closed_loop');
  await page.fill('[name=closed_loop_request_generator_config_num_requests]', '2000000'); // within the page's memory budget (1.5 GiB)
  await page.press('[name=closed_loop_request_generator_config_num_requests]', 'Tab');
  assert.ok(await page.isChecked('[data-testid=run-variant]'), 'edits keep the B run armed');
  await page.click('[data-testid=run]');
  await page.waitForFunction(() => /Run A \(1 of 2\).*requests done/.test(document.querySelector('[data-testid=progress]')?.textContent ?? ''), null, { timeout: LONG });
  await page.screenshot({ path: path.join(ARTIFACTS, 'scheduler-ab-running.png') });
  await page.click('[data-testid=cancel]');
  await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: LONG });
  assert.match(await page.locator('.notice').first().innerText(), /cancelled/);
  assert.doesNotMatch(await page.locator('[data-testid=progress]').innerText(), /Run B/);
  assert.equal(await runCount(page), 2, 'the cancelled pair added no run');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('an uploaded trace says what the run takes from it, and choosing replay afterwards replays it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsim-replay-'));
  const file = path.join(dir, 'my_replay.csv');
  const rows = Array.from({ length: 40 }, (_, i) => `${(i * 0.25).toFixed(2)},${200 + 10 * i},${5 + (i % 7)}`);
  fs.writeFileSync(file, `arrived_at,num_prefill_tokens,num_decode_tokens\n${rows.join('\n')}\n`);
  const page = await open();
  await ready(page);
  // On the quick-start preset a trace feeds the synthetic workload's lengths only: the page says so.
  await page.setInputFiles('[data-testid=trace-upload]', file);
  await page.waitForSelector('[data-testid=trace-summary]', { timeout: LONG });
  assert.match(await page.locator('[data-testid=trace-use]').innerText(), /Only its request lengths are used: the synthetic workload sends 128 requests/);
  assert.ok(await page.isEnabled('[data-testid=trace-mode] input[value=replay]'), 'a trace with arrival times can be replayed');
  // Choosing replay after the upload replays the uploaded file, not the field's default path.
  await page.selectOption('[name=request_generator_config_type]', 'trace');
  assert.equal(await page.inputValue('[name=trace_request_generator_config_trace_file]'), 'my_replay.csv');
  assert.match(await page.locator('[data-testid=trace-use]').innerText(), /Replayed/);
  await run(page);
  assert.equal(JSON.parse(await download(page, 'summary.json')).num_completed, 40);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('a pasted config.json is checked, names the run, and travels in the share link', async () => {
  const page = await open();
  await ready(page);
  await page.click('details.paste summary');
  await page.fill('details.paste textarea', '{ "num_hidden_layers": 32, ');
  await page.click('details.paste button');
  assert.match(await page.locator('details.paste [data-testid=error]').innerText(), /not valid JSON/);
  const qwen = {
    _name_or_path: 'Qwen/Qwen2.5-7B', architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_act: 'silu',
    hidden_size: 3584, intermediate_size: 18944, num_attention_heads: 28, num_key_value_heads: 4, num_hidden_layers: 28,
    vocab_size: 152064, max_position_embeddings: 32768, tie_word_embeddings: false, rms_norm_eps: 1e-6,
  };
  await page.fill('details.paste textarea', JSON.stringify(qwen, null, 2));
  await page.click('details.paste button');
  assert.equal(await page.locator('details.paste [data-testid=error]').count(), 0);
  assert.equal(await page.inputValue('[name=replica_config_model_config_file]'), 'Qwen2.5-7B.json');
  await page.waitForSelector('.upload-status.ok', { timeout: LONG });
  await run(page);
  assert.match(await page.locator('[data-testid=runs]').innerText(), /Qwen2\.5-7B/);
  const href = await page.getAttribute('[data-testid=share-link]', 'href');
  assert.match(href, /_text=Qwen2\.5-7B\.json/);
  const table = await page.locator('[data-testid=summary]').innerText();
  const other = await open(href);
  await waitForRuns(other, 1); // the link alone reproduces it: no file to ask for
  assert.equal(await other.locator('[data-testid=needs-file]').count(), 0);
  assert.equal(await other.locator('[data-testid=summary]').innerText(), table);
  assert.deepEqual([...page.problems, ...other.problems], []);
  await page.close();
  await other.close();
});

test('bad field values show the engine\'s message at the field; Cancel stops a long run', async () => {
  const page = await open();
  await ready(page);
  await page.fill('[name=cluster_config_num_replicas]', '0');
  await page.press('[name=cluster_config_num_replicas]', 'Tab');
  const fieldError = page.locator('#field-cluster_config_num_replicas [data-testid=error]');
  await fieldError.waitFor();
  assert.match(await fieldError.innerText(), /0 is out of range: it must be between 1 and/);
  await page.fill('[name=cluster_config_num_replicas]', 'eight');
  await page.press('[name=cluster_config_num_replicas]', 'Tab');
  await page.waitForFunction(() => document.querySelector('#field-cluster_config_num_replicas [data-testid=error]')?.textContent.includes("'eight' is not a whole number"));
  await page.screenshot({ path: path.join(ARTIFACTS, 'field-error.png') });
  // The errored input says so to assistive technology, and names its error.
  const input = page.locator('[name=cluster_config_num_replicas]');
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  const described = (await input.getAttribute('aria-describedby')).split(' ').map((id) => page.locator(`#${id}`));
  assert.match((await Promise.all(described.map((d) => d.innerText()))).join('\n'), /'eight' is not a whole number/);
  assert.equal(await fieldError.getAttribute('role'), 'alert');
  assert.equal(await page.getAttribute('[name=seed]', 'aria-invalid'), 'false');
  assert.equal(await page.getAttribute('[data-testid=progress]', 'aria-live'), 'polite');
  // The custom device's figures show only for --replica_config_device custom.
  assert.ok(!(await page.isVisible('#field-custom_device_config_fp16_tflops')), 'hidden for a catalogued device');
  await page.fill('[name=replica_config_device]', 'custom');
  await page.press('[name=replica_config_device]', 'Tab');
  assert.ok(await page.isVisible('#field-custom_device_config_fp16_tflops'), 'shown for the custom device');

  await page.selectOption('[data-testid=preset]', 'closed-loop-benchmark');
  await page.fill('[name=closed_loop_request_generator_config_num_requests]', '2000000'); // within the page's memory budget (1.5 GiB)
  await page.press('[name=closed_loop_request_generator_config_num_requests]', 'Tab');
  await page.click('[data-testid=run]');
  await page.waitForFunction(() => document.querySelector('[data-testid=progress]')?.textContent.includes('requests done'), null, { timeout: LONG });
  const progress = await page.locator('[data-testid=progress]').innerText();
  console.log(`progress while running: ${progress}`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'running.png') });
  await page.click('[data-testid=cancel]');
  await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: LONG });
  assert.match(await page.locator('.notice').first().innerText(), /cancelled/);
  // The respawned worker runs the next configuration.
  await page.selectOption('[data-testid=preset]', 'long-context-summarisation');
  const ms = await run(page);
  measure('long_context_preset_run_to_summary', ms, 'ms');
  // The cancelled attempt left no gap in the numbering: the first finished run is #1.
  assert.match(await page.locator('[data-testid=runs] tbody tr').first().innerText(), /^#1\b/);
  assert.deepEqual(page.problems, []);
  await page.close();
});

/** Records what the page sends its first worker, and lets a test hand the page a message as if
 *  that worker had sent it (installed before the page's scripts run). */
function spyOnWorker() {
  const Original = window.Worker;
  window.__sent = [];
  window.Worker = class extends Original {
    constructor(...args) {
      super(...args);
      window.__worker ??= this;
      const post = this.postMessage.bind(this);
      this.postMessage = (message, ...rest) => {
        if (this === window.__worker && typeof message?.json === 'string') window.__sent.push(JSON.parse(message.json));
        return post(message, ...rest);
      };
    }
  };
}

test('a cross-field error typed in the form shows at its field live, from the worker; a stale answer never overwrites a newer one', async () => {
  const page = await open();
  await page.addInitScript(spyOnWorker);
  await page.reload();
  await ready(page);
  // Each field parses; together they are refused by the engine's validator, which only the
  // worker links: 3 pipeline stages do not divide the model's 32 layers.
  await page.fill('[name=replica_config_num_pipeline_stages]', '3');
  await page.press('[name=replica_config_num_pipeline_stages]', 'Tab');
  const fieldError = page.locator('#field-replica_config_num_pipeline_stages [data-testid=error]');
  await fieldError.waitFor();
  assert.match(await fieldError.innerText(), /PP=3 does not divide .*32 layers/);
  assert.equal(await page.getAttribute('[name=replica_config_num_pipeline_stages]', 'aria-invalid'), 'true');
  const checks = await page.evaluate(() => window.__sent.filter((m) => m.check).map((m) => m.check));
  assert.ok(checks.length >= 2, `the page asked the worker: ${JSON.stringify(checks)}`);
  assert.deepEqual(checks.at(-1).pairs.find(([flag]) => flag === 'replica_config_num_pipeline_stages'), ['replica_config_num_pipeline_stages', '3']);
  // An answer to an older form arriving now (as a slow worker's would) is dropped: it would
  // clear the error and put one at the seed. Handed to the page's handler synchronously; the
  // page redraws before the timer fires.
  const stale = { checked: { id: checks[0].id, errors: [{ flag: 'seed', message: 'stale answer', hint: null }], warnings: [], memory: null } };
  assert.ok(stale.checked.id < checks.at(-1).id);
  await page.evaluate((json) => {
    window.__worker.onmessage(new MessageEvent('message', { data: { json } }));
    return new Promise((resolve) => setTimeout(resolve, 100));
  }, JSON.stringify(stale));
  assert.match(await fieldError.innerText(), /PP=3 does not divide/);
  assert.equal(await page.locator('#field-seed [data-testid=error]').count(), 0);
  // Fixed: the error goes and the memory per GPU follows the new form.
  await page.fill('[name=replica_config_num_pipeline_stages]', '2');
  await page.press('[name=replica_config_num_pipeline_stages]', 'Tab');
  await page.waitForFunction(() => !document.querySelector('#field-replica_config_num_pipeline_stages [data-testid=error]')
    && /Weights/.test(document.querySelector('[data-testid=memory]')?.textContent ?? ''));
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('charts are sharp at devicePixelRatio 2; Enter in a field runs; a run without batches explains its empty charts', async () => {
  const page = await open(ctx.site.url, { deviceScaleFactor: 2 });
  await ready(page);
  assert.equal(await page.evaluate(() => window.devicePixelRatio), 2);
  // Enter in a text field runs the form with the value just typed, as Run does.
  await page.fill('[name=seed]', '11');
  await page.press('[name=seed]', 'Enter');
  await waitForRuns(page, 1);
  assert.match(await page.getAttribute('[data-testid=share-link]', 'href'), /seed=11/);
  const charts = ['chart-ttft', 'chart-tbt', 'chart-e2e', 'chart-load', 'chart-throughput', 'chart-batch', 'chart-kv', 'chart-replicas'];
  for (const chart of charts) {
    const size = await page.$eval(`[data-testid=${chart}]`, (c) => ({ w: c.width, h: c.height, cssW: c.clientWidth, cssH: c.clientHeight }));
    assert.equal(size.w, size.cssW * 2, `${chart}: ${JSON.stringify(size)}`);
    assert.ok(Math.abs(size.h - size.cssH * 2) <= 2, `${chart}: ${JSON.stringify(size)}`);
    const inked = await inkedPixels(page, chart);
    assert.ok(inked > 2000, `${chart} has ${inked} drawn pixels`);
  }
  await page.locator('[data-testid=chart-ttft]').screenshot({ path: path.join(ARTIFACTS, 'chart-ttft-dpr2.png') });
  await page.locator('[data-testid=chart-throughput]').screenshot({ path: path.join(ARTIFACTS, 'chart-throughput-dpr2.png') });
  await page.locator('[data-testid=chart-replicas]').screenshot({ path: path.join(ARTIFACTS, 'chart-replicas-dpr2.png') });

  // A time limit before the first batch: every chart says why it is empty, and the Chrome
  // trace's download says it is empty, not off.
  await page.fill('[name=time_limit]', '0.01');
  await page.press('[name=time_limit]', 'Enter');
  await waitForRuns(page, 2);
  await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: LONG });
  await page.waitForSelector('[data-testid=chart-replicas][data-note]'); // charts redraw just after
  // Run 2 is shown alone: every chart is its own.
  await page.waitForSelector('[data-testid=chart-ttft][data-note]');
  for (const chart of charts) {
    assert.match(await page.getAttribute(`[data-testid=${chart}]`, 'data-note') ?? '', /^No data: no (request|batch)/, chart);
  }
  await page.waitForFunction(() => document.querySelector('[data-testid="download-chrome_trace.json"]')?.title.includes('no batch ran'));
  assert.doesNotMatch(await page.getAttribute('[data-testid="download-chrome_trace.json"]', 'title'), /is off/);
  await page.locator('.charts').screenshot({ path: path.join(ARTIFACTS, 'charts-no-batch.png') });
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('a first visit downloads no trace: the default preset\'s first Run fetches it, says so, and completes', async () => {
  const TRACE = '/data/traces/conversation_synth.csv';
  // A server of its own, whose requests this test alone makes; the trace's response waits
  // until the test has seen the page say it is fetching it.
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  const site = await serve(DIST, 0, '127.0.0.1', { hold: (p) => (p === TRACE ? released : null) });
  try {
    const page = await open(site.url);
    await ready(page);
    // Time for anything the page or its worker would fetch by itself once ready.
    for (let last = -1; last !== site.transferred.bytes;) {
      last = site.transferred.bytes;
      await page.waitForTimeout(1000);
    }
    measure('first_visit_all_gzip', site.transferred.bytes, 'bytes (no Run: everything a first visit downloads)');
    assert.deepEqual(site.transferred.requests.filter((p) => p.startsWith('/data/')), [], 'nothing under data/ before a Run');
    assert.equal(await page.$eval('[data-testid=preset]', (s) => s.value), 'quick-start');

    await page.click('[data-testid=run]');
    await page.waitForFunction((t) => document.querySelector('[data-testid=progress]')?.innerText.includes(`fetching ${t}`),
      TRACE.slice(1), { timeout: LONG })
      .catch(async (e) => { throw new Error(`the fetch was not shown: ${e.message}; ${await diagnose(page)}`); });
    // The page says "fetching" as it calls fetch(); the request reaches the server a moment
    // later (a race the CI once lost): wait for it, within the same ceiling.
    for (const start = Date.now(); !site.transferred.requests.includes(TRACE) && Date.now() - start < LONG;) {
      await page.waitForTimeout(50);
    }
    assert.deepEqual(site.transferred.requests.filter((p) => p.startsWith('/data/')), [TRACE], 'the Run asked for the trace');
    release();
    await waitForRuns(page, 1);
    assert.match(await page.locator('[data-testid=summary]').innerText(), /TTFT/);
    assert.deepEqual(await visibleErrors(page), []);
    assert.deepEqual(page.problems, []);
    assert.deepEqual(site.transferred.requests.filter((p) => p === TRACE), [TRACE], 'fetched once');
    await page.close();
  } finally {
    release();
    site.server.close();
  }
});
