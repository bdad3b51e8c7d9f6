// What the page's "Look inside" panel costs training (`make bench`): the demo page trains on the
// CPU backend with a digit on the draw pad, and its training speed is measured in windows with
// the panel closed and open in turn (open, it shows each layer and the filters a few times a
// second as the weights change). Speed is measured per step, from the time each step ends (the
// page's progress bar), leaving out the pauses of the page's saves and evaluations (steps over
// three times the window's median); a look's own time stays in. The windows come in pairs,
// closed then open, then open then closed (which cancels a steady drift), and the cost is the
// median over the pairs of what the open window lost against its closed one. Prints a table and
// writes target/bench/look-inside.json.
//
// Environment: LOOK_PAIRS (default 12) pairs of windows, LOOK_WINDOW_SECONDS (default 4) each.

import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { draw, launchBrowser, openPage, startServer, waitForState } from '../e2e/browser.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAIRS = Number(process.env.LOOK_PAIRS ?? 12);
const WINDOW_SECONDS = Number(process.env.LOOK_WINDOW_SECONDS ?? 4);
/** Steps before the first window: set-up and the first read-backs are left out. */
const WARMUP_STEPS = 60;

const server = await startServer();
const browser = await launchBrowser();
try {
  const { page, errors } = await openPage(browser, `${server.url}?backend=cpu`);
  await waitForState(page, 'ready', 120_000);
  await draw(page, [[70, 60], [210, 60], [150, 150], [120, 245]]);
  // Enough for the pairs (at about 2,000 images/s); stopped after them.
  await page.fill('#epochs', String(Math.ceil((PAIRS * 2 * (WINDOW_SECONDS + 1) * 2500) / 60_000) + 1));
  const batchSize = Number(await page.inputValue('#batch-size'));
  await page.click('#train');
  await page.waitForFunction((n) => Number(document.querySelector('#train-progress').value) > n, WARMUP_STEPS, { timeout: 120_000 });
  // Counts the looks the panel shows (each says the step the run's model is at), and keeps the
  // time each step ended.
  await page.evaluate(() => {
    window.looks = 0;
    window.stepEnds = [];
    new MutationObserver(() => (window.looks += 1)).observe(document.querySelector('#inside-model'), { childList: true, characterData: true, subtree: true });
    new MutationObserver(() => window.stepEnds.push(performance.now())).observe(document.querySelector('#train-progress'), { attributeFilter: ['value'] });
  });

  /** Trains WINDOW_SECONDS with the panel `open`; the images per second and looks per second. */
  async function window(open) {
    await page.evaluate((o) => (document.querySelector('#inside').open = o), open);
    await page.waitForTimeout(1000);
    const from = await page.evaluate(() => ({ looks: window.looks, steps: window.stepEnds.length }));
    await page.waitForTimeout(WINDOW_SECONDS * 1000);
    const to = await page.evaluate(() => ({ looks: window.looks, ends: window.stepEnds }));
    const ends = to.ends.slice(from.steps);
    const steps = ends.slice(1).map((end, i) => end - ends[i]);
    const median = [...steps].sort((a, b) => a - b)[Math.floor(steps.length / 2)];
    const kept = steps.filter((ms) => ms <= 3 * median);
    const meanMs = kept.reduce((sum, ms) => sum + ms, 0) / kept.length;
    return { open, imagesPerSecond: (batchSize * 1000) / meanMs, looksPerSecond: (to.looks - from.looks) / ((ends.at(-1) - ends[0]) / 1000), steps: steps.length, pauses: steps.length - kept.length };
  }

  const pairs = [];
  for (let i = 0; i < PAIRS; i++) {
    const first = await window(i % 2 === 1);
    const second = await window(i % 2 === 0);
    const [open, closed] = first.open ? [first, second] : [second, first];
    pairs.push({ closed, open, cost: (closed.imagesPerSecond - open.imagesPerSecond) / closed.imagesPerSecond });
  }
  const windows = pairs.flatMap((p) => [p.closed, p.open]);
  await page.click('#stop');
  await waitForState(page, 'trained', 120_000);
  if (errors.length) throw new Error(`the page reported errors: ${errors.join('; ')}`);

  const mean = (open, key) => {
    const own = windows.filter((w) => w.open === open);
    return own.reduce((sum, w) => sum + w[key], 0) / own.length;
  };
  const closed = mean(false, 'imagesPerSecond');
  const opened = mean(true, 'imagesPerSecond');
  const costs = pairs.map((p) => p.cost * 100).sort((a, b) => a - b);
  const median = (costs[Math.floor((costs.length - 1) / 2)] + costs[Math.ceil((costs.length - 1) / 2)]) / 2;
  const result = {
    batchSize,
    windowSeconds: WINDOW_SECONDS,
    pairs,
    closed: { imagesPerSecond: closed },
    open: { imagesPerSecond: opened, looksPerSecond: mean(true, 'looksPerSecond') },
    costPercent: { median, quartiles: [costs[Math.floor(costs.length / 4)], costs[Math.floor((3 * costs.length) / 4)]] },
  };
  mkdirSync(`${ROOT}/target/bench`, { recursive: true });
  writeFileSync(`${ROOT}/target/bench/look-inside.json`, `${JSON.stringify(result, null, 2)}\n`);

  const row = (name, ips, looks) => `| ${name} | ${Math.round(ips).toLocaleString('en')} | ${looks} |`;
  console.log(`\n"Look inside" while the page trains on the CPU (batch ${batchSize}, ${PAIRS} pairs of ${WINDOW_SECONDS}-second windows, closed and open)\n`);
  console.log('| panel | training images/s | looks/s |');
  console.log('|---|---:|---:|');
  console.log(row('closed', closed, '0'));
  console.log(row('open', opened, result.open.looksPerSecond.toFixed(1)));
  const [q1, q3] = result.costPercent.quartiles;
  console.log(`\ncost of the open panel: ${median.toFixed(1)}% of training speed (median of the pairs; quartiles ${q1.toFixed(1)}% and ${q3.toFixed(1)}%)`);
} finally {
  await browser.close();
  server.close();
}
