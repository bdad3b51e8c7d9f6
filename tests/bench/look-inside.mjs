// What the page's "Look inside" panel costs training (`make bench`): the demo page trains on the
// CPU backend with a digit on the draw pad, and its training speed is measured in windows with
// the panel closed and open in turn (open, it shows each layer and the filters a few times a
// second as the weights change). Prints a table and writes target/bench/look-inside.json.
//
// Environment: LOOK_WINDOWS (default 3) pairs of windows, LOOK_WINDOW_SECONDS (default 8) each.

import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { draw, launchBrowser, openPage, startServer, waitForState } from '../e2e/browser.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WINDOWS = Number(process.env.LOOK_WINDOWS ?? 3);
const WINDOW_SECONDS = Number(process.env.LOOK_WINDOW_SECONDS ?? 8);
/** Steps before the first window: set-up and the first read-backs are left out. */
const WARMUP_STEPS = 60;

const server = await startServer();
const browser = await launchBrowser();
try {
  const { page, errors } = await openPage(browser, `${server.url}?backend=cpu`);
  await waitForState(page, 'ready', 120_000);
  await draw(page, [[70, 60], [210, 60], [150, 150], [120, 245]]);
  await page.fill('#epochs', '3');
  const batchSize = Number(await page.inputValue('#batch-size'));
  await page.click('#train');
  await page.waitForFunction((n) => Number(document.querySelector('#train-progress').value) > n, WARMUP_STEPS, { timeout: 120_000 });
  // Counts the looks the panel shows: each says the step the run's model is at.
  await page.evaluate(() => {
    window.looks = 0;
    new MutationObserver(() => (window.looks += 1)).observe(document.querySelector('#inside-model'), { childList: true, characterData: true, subtree: true });
  });

  /** Trains WINDOW_SECONDS with the panel `open`; the images per second and looks per second. */
  async function window(open) {
    await page.evaluate((o) => (document.querySelector('#inside').open = o), open);
    await page.waitForTimeout(1000);
    const at = () => page.evaluate(() => ({ time: performance.now(), step: Number(document.querySelector('#train-progress').value), looks: window.looks }));
    const from = await at();
    await page.waitForTimeout(WINDOW_SECONDS * 1000);
    const to = await at();
    const seconds = (to.time - from.time) / 1000;
    return { open, imagesPerSecond: ((to.step - from.step) * batchSize) / seconds, looksPerSecond: (to.looks - from.looks) / seconds };
  }

  const windows = [];
  for (let i = 0; i < WINDOWS; i++) {
    windows.push(await window(false));
    windows.push(await window(true));
  }
  await page.click('#stop');
  await waitForState(page, 'trained', 120_000);
  if (errors.length) throw new Error(`the page reported errors: ${errors.join('; ')}`);

  const mean = (open, key) => {
    const own = windows.filter((w) => w.open === open);
    return own.reduce((sum, w) => sum + w[key], 0) / own.length;
  };
  const closed = mean(false, 'imagesPerSecond');
  const opened = mean(true, 'imagesPerSecond');
  const result = {
    batchSize,
    windowSeconds: WINDOW_SECONDS,
    windows,
    closed: { imagesPerSecond: closed },
    open: { imagesPerSecond: opened, looksPerSecond: mean(true, 'looksPerSecond') },
    costPercent: ((closed - opened) / closed) * 100,
  };
  mkdirSync(`${ROOT}/target/bench`, { recursive: true });
  writeFileSync(`${ROOT}/target/bench/look-inside.json`, `${JSON.stringify(result, null, 2)}\n`);

  const row = (name, ips, looks) => `| ${name} | ${Math.round(ips).toLocaleString('en')} | ${looks} |`;
  console.log(`\n"Look inside" while the page trains on the CPU (batch ${batchSize}, ${WINDOWS} windows of ${WINDOW_SECONDS} s each way, in turn)\n`);
  console.log('| panel | training images/s | looks/s |');
  console.log('|---|---:|---:|');
  console.log(row('closed', closed, '0'));
  console.log(row('open', opened, result.open.looksPerSecond.toFixed(1)));
  console.log(`\ncost of the open panel: ${result.costPercent.toFixed(1)}% of training speed (per window: ${windows.map((w) => `${w.open ? 'open' : 'closed'} ${Math.round(w.imagesPerSecond)}`).join(', ')})`);
} finally {
  await browser.close();
  server.close();
}
