// End-to-end test of disaggregated prefill and decode in the page (issue 17): the form's
// disaggregation section sets up a decode pool, the run shows both pools side by side, its KV
// transfers and their time CDF, and the per-replica chart by pool (P0, P1, D0, ...); the cluster
// fields are tagged as the prefill pool's and the memory panel shows one GPU of each pool; the
// share link brings the decode pool back and reruns to the same summary. An aggregated run
// shows no transfer chart and one memory plan.
//
// Run: `node --test tests/e2e/` after `trunk build --release`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  ARTIFACTS, download, inkedPixels, measure, open, ready, run, setField, useBrowser, waitForRuns,
} from './helpers.mjs';

useBrowser();

test('a disaggregated cluster runs from the form, shows both pools and its transfers, and survives its share link', async () => {
  const page = await open();
  await ready(page);
  // The decode pool's fields show only once disaggregation is chosen.
  await page.click('#disaggregation > summary');
  assert.equal(await page.isVisible('[name=disaggregation_config_decode_num_replicas]'), false);
  assert.equal(await page.isVisible('[data-testid=prefill-pool-legend]'), false);
  assert.equal(await page.isVisible('#field-replica_config_device [data-testid=prefill-pool-tag]'), false);
  await page.selectOption('[name=disaggregation_config_type]', 'prefill_decode');
  assert.equal(await page.isVisible('[name=disaggregation_config_decode_num_replicas]'), true);
  // The cluster fields the decode pool has its own of are the prefill pool's; the model is both's.
  assert.equal(await page.isVisible('[data-testid=prefill-pool-legend]'), true);
  // So is the replica scheduler: the decode pool's is its own choice, `same` by default.
  assert.equal(await page.inputValue('[name=disaggregation_config_decode_replica_scheduler_type]'), 'same');
  for (const flag of ['cluster_config_num_replicas', 'replica_config_device', 'replica_config_tensor_parallel_size',
    'replica_scheduler_config_type']) {
    assert.equal(await page.isVisible(`#field-${flag} [data-testid=prefill-pool-tag]`), true, flag);
  }
  assert.equal(await page.locator('#field-replica_config_model_name [data-testid=prefill-pool-tag]').count(), 0);
  await setField(page, 'cluster_config_num_replicas', '2');
  await setField(page, 'disaggregation_config_decode_num_replicas', '3');
  await setField(page, 'disaggregation_config_decode_device', 'h200');
  // The decode device brings its node along, as the replicas' device does.
  assert.equal(await page.inputValue('[name=disaggregation_config_decode_network_device]'), 'h200_dgx');
  await page.selectOption('[name=disaggregation_config_decode_router]', 'most_kv_free');
  // The memory panel shows one GPU of each pool, the decode pool's from its own plan (H200).
  await page.locator('[data-testid=memory-decode]', { hasText: 'H200' }).waitFor({ timeout: 20_000 });
  assert.match(await page.locator('[data-testid=memory-decode]').innerText(), /Decode pool[\s\S]*KV cache holds [\d,]+ tokens/);
  const prefillMemory = await page.locator('[data-testid=memory-prefill]').innerText();
  assert.match(prefillMemory, /Prefill pool[\s\S]*KV cache holds [\d,]+ tokens/);
  assert.doesNotMatch(prefillMemory, /H200/);
  await page.locator('#cluster').screenshot({ path: path.join(ARTIFACTS, 'disaggregated-cluster-form.png') });
  const ms = await run(page);
  measure('disaggregated_quick_start_run_to_summary', ms, 'ms');

  // Both pools, side by side.
  const pools = page.locator('[data-testid=pools]');
  await pools.waitFor();
  const rows = await pools.locator('tbody tr').allInnerTexts();
  const row = (label) => rows.find((r) => r.startsWith(label))?.split('\t').map((c) => c.trim());
  assert.deepEqual(row('Replicas'), ['Replicas', '2', '3']);
  assert.deepEqual(row('GPUs'), ['GPUs', '2', '3']);
  for (const label of ['GPU busy, mean', 'MFU, mean', 'KV-cache usage, mean', 'Queueing p90']) {
    assert.ok(row(label), `${label} in ${JSON.stringify(rows)}`);
  }
  const summary = JSON.parse(await download(page, 'summary.json'));
  assert.equal(summary.disaggregation.decode.num_replicas, 3);
  assert.equal(summary.cost.num_gpus, 5, "cost counts both pools");
  const transfers = await page.locator('[data-testid=transfers]').innerText();
  assert.match(transfers, new RegExp(`KV transfers\\s+${summary.disaggregation.num_kv_transfers} \\(`));
  assert.ok(summary.disaggregation.num_kv_transfers > 0, 'requests were handed off');
  assert.match(transfers, /Transfer time on the link\s+p50 /);

  // The transfer time's CDF is drawn, and the per-replica chart names the pools.
  assert.equal(await page.isVisible('[data-testid=chart-kv-transfer]'), true);
  assert.ok(await inkedPixels(page, 'chart-kv-transfer') > 1000, 'the transfer CDF is drawn');
  assert.match(await page.getAttribute('[data-testid=chart-kv-transfer]', 'aria-label'), /KV transfer time: CDF/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'disaggregated-run.png'), fullPage: true });
  // The per-replica chart's bars are labelled by pool: the readout under the pointer names them.
  const replicas = page.locator('[data-testid=chart-replicas]');
  await replicas.scrollIntoViewIfNeeded();
  const box = await replicas.boundingBox();
  const labels = new Set();
  for (let i = 1; i < 60; i++) {
    await page.mouse.move(box.x + (box.width * i) / 60, box.y + box.height * 0.5);
    const text = await page.locator('[data-testid=chart-readout]').textContent({ timeout: 500 }).catch(() => null);
    if (text) labels.add(text.split(':')[0]);
  }
  assert.deepEqual([...labels].sort(), ['D0', 'D1', 'D2', 'P0', 'P1'], 'the prefill replicas, then the decode ones');
  await page.mouse.move(0, 0);

  // The share link carries the decode pool and reruns to the same summary.
  const href = await page.getAttribute('[data-testid=share-link]', 'href');
  for (const pair of ['disaggregation_config_type=prefill_decode', 'disaggregation_config_decode_num_replicas=3',
    'disaggregation_config_decode_router=most_kv_free', 'disaggregation_config_decode_device=h200']) {
    assert.ok(href.includes(pair), `${pair} in ${href}`);
  }
  const table = await pools.innerText();
  const other = await open(href);
  await waitForRuns(other, 1);
  assert.equal(await other.locator('[data-testid=pools]').innerText(), table);
  assert.deepEqual(JSON.parse(await download(other, 'summary.json')), summary);
  assert.equal(await other.inputValue('[name=disaggregation_config_decode_num_replicas]'), '3');
  assert.equal(await other.inputValue('[name=disaggregation_config_decode_network_device]'), 'h200_dgx');

  // Back to aggregated serving: no pools, no transfer chart.
  await other.click('#disaggregation > summary');
  await other.selectOption('[name=disaggregation_config_type]', 'none');
  await other.locator('[data-testid=memory-decode]').waitFor({ state: 'detached', timeout: 20_000 });
  assert.equal(await other.isVisible('[data-testid=prefill-pool-legend]'), false);
  await run(other);
  assert.equal(await other.locator('[data-testid=pools]').count(), 0);
  assert.equal(await other.isVisible('[data-testid=chart-kv-transfer]'), false);
  assert.deepEqual([...page.problems, ...other.problems], []);
  await page.close();
  await other.close();
});
