// What the page's "Look inside" panel costs training (`make bench`): the demo page trains with a
// digit on the draw pad, on the CPU backend and on WebGPU (SwiftShader here), and its training
// speed is measured in windows with the panel closed and open in turn (open, it shows each layer
// and the filters as the weights change, at the run's read-backs of the loss). Speed is measured
// from one read-back to the next (the page's loss readout), which holds whole steps on WebGPU
// too (steps are queued, and a read-back waits for them), leaving out the evaluations at the end
// of an epoch (spans over three times the window's median); the looks' own time stays in. The
// windows come in pairs, closed then open, then open then closed (which cancels a steady drift),
// and the cost is the median over the pairs of what the open window lost against its closed
// one. Prints a table and writes target/bench/look-inside.json.
//
// Environment: LOOK_PAIRS (default 12 on the CPU, 2 on WebGPU) pairs of windows,
// LOOK_WINDOW_SECONDS (default 4 on the CPU, 60 on WebGPU) each; LOOK_BACKENDS (default
// "cpu,webgpu").

import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { draw, launchBrowser, openPage, startServer, waitForState } from '../e2e/browser.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BACKENDS = (process.env.LOOK_BACKENDS ?? 'cpu,webgpu').split(',');
/** Per backend: pairs of windows, seconds per window, and steps before the first window (set-up
 * and the first read-backs are left out). */
const PLAN = {
  cpu: { pairs: 12, windowSeconds: 4, warmupSteps: 60 },
  webgpu: { pairs: 2, windowSeconds: 60, warmupSteps: 20 },
};

/** The page training on `backend`: the panel's cost, as described above. */
async function measure(server, backend) {
  const plan = {
    ...PLAN[backend],
    ...(process.env.LOOK_PAIRS && { pairs: Number(process.env.LOOK_PAIRS) }),
    ...(process.env.LOOK_WINDOW_SECONDS && { windowSeconds: Number(process.env.LOOK_WINDOW_SECONDS) }),
  };
  const browser = await launchBrowser({ webgpu: backend === 'webgpu' });
  try {
    const { page, errors } = await openPage(browser, `${server.url}?backend=${backend}`);
    await waitForState(page, 'ready', 120_000);
    await draw(page, [[70, 60], [210, 60], [150, 150], [120, 245]]);
    // More epochs than the windows need; the run is stopped after them.
    await page.fill('#epochs', '20');
    const batchSize = Number(await page.inputValue('#batch-size'));
    await page.click('#train');
    await page.waitForFunction((n) => Number(document.querySelector('#train-progress').value) > n, plan.warmupSteps, { timeout: 300_000 });
    // Counts the looks the panel shows (each says the step the run's model is at), and keeps the
    // time and step of each read-back.
    await page.evaluate(() => {
      window.looks = 0;
      window.readBacks = [];
      new MutationObserver(() => (window.looks += 1)).observe(document.querySelector('#inside-model'), { childList: true, characterData: true, subtree: true });
      new MutationObserver(() =>
        window.readBacks.push({ time: performance.now(), step: Number(document.querySelector('#train-progress').value) }),
      ).observe(document.querySelector('#stat-loss'), { childList: true, characterData: true, subtree: true });
    });

    /** Trains a window with the panel `open`: its images per second and looks per second. */
    async function window(open) {
      await page.evaluate((o) => (document.querySelector('#inside').open = o), open);
      await page.waitForTimeout(1000);
      const from = await page.evaluate(() => ({ looks: window.looks, readBacks: window.readBacks.length }));
      await page.waitForTimeout(plan.windowSeconds * 1000);
      const to = await page.evaluate(() => ({ looks: window.looks, readBacks: window.readBacks }));
      const readBacks = to.readBacks.slice(from.readBacks);
      const spans = readBacks.slice(1).map((r, i) => ({ ms: r.time - readBacks[i].time, steps: r.step - readBacks[i].step }));
      const median = spans.map((s) => s.ms).sort((a, b) => a - b)[Math.floor(spans.length / 2)];
      const kept = spans.filter((s) => s.ms <= 3 * median);
      const sum = (key) => kept.reduce((total, s) => total + s[key], 0);
      return {
        open,
        imagesPerSecond: (sum('steps') * batchSize * 1000) / sum('ms'),
        looksPerSecond: (to.looks - from.looks) / ((readBacks.at(-1).time - readBacks[0].time) / 1000),
        readBacks: readBacks.length,
        leftOut: spans.length - kept.length,
      };
    }

    const pairs = [];
    for (let i = 0; i < plan.pairs; i++) {
      const first = await window(i % 2 === 1);
      const second = await window(i % 2 === 0);
      const [open, closed] = first.open ? [first, second] : [second, first];
      pairs.push({ closed, open, cost: (closed.imagesPerSecond - open.imagesPerSecond) / closed.imagesPerSecond });
    }
    await page.click('#stop');
    await waitForState(page, 'trained', 300_000);
    if (errors.length) throw new Error(`the page reported errors: ${errors.join('; ')}`);

    const mean = (values) => values.reduce((sum, v) => sum + v, 0) / values.length;
    const costs = pairs.map((p) => p.cost * 100).sort((a, b) => a - b);
    const at = (q) => costs[Math.round(q * (costs.length - 1))];
    return {
      backend,
      batchSize,
      ...plan,
      pairs,
      closed: { imagesPerSecond: mean(pairs.map((p) => p.closed.imagesPerSecond)) },
      open: {
        imagesPerSecond: mean(pairs.map((p) => p.open.imagesPerSecond)),
        looksPerSecond: mean(pairs.map((p) => p.open.looksPerSecond)),
      },
      costPercent: { median: (costs[Math.floor((costs.length - 1) / 2)] + costs[Math.ceil((costs.length - 1) / 2)]) / 2, quartiles: [at(0.25), at(0.75)] },
    };
  } finally {
    await browser.close();
  }
}

const server = await startServer();
const results = [];
try {
  for (const backend of BACKENDS) results.push(await measure(server, backend));
} finally {
  server.close();
}
mkdirSync(`${ROOT}/target/bench`, { recursive: true });
writeFileSync(`${ROOT}/target/bench/look-inside.json`, `${JSON.stringify(results, null, 2)}\n`);

const name = { cpu: 'CPU', webgpu: 'WebGPU' };
const speed = (ips) => Math.round(ips).toLocaleString('en');
console.log('\n"Look inside" while the page trains (batch 64): training images/s with the panel closed and open, in pairs of windows\n');
console.log('| backend | pairs × seconds | closed | open | looks/s | cost (median of pairs) | quartiles |');
console.log('|---|---:|---:|---:|---:|---:|---|');
for (const r of results) {
  const [q1, q3] = r.costPercent.quartiles;
  console.log(
    `| ${name[r.backend]} | ${r.pairs.length} × ${r.windowSeconds} | ${speed(r.closed.imagesPerSecond)} | ${speed(r.open.imagesPerSecond)} | ${r.open.looksPerSecond.toFixed(1)} | ${r.costPercent.median.toFixed(1)}% | ${q1.toFixed(1)}% to ${q3.toFixed(1)}% |`,
  );
}
