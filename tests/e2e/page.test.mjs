// The demo page as a person uses it: MNIST downloads, one epoch trains on the CPU backend to at
// least 97% test accuracy, and a digit drawn with the mouse gets a prediction.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ARTIFACTS, launchBrowser, openPage, startServer } from './browser.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.close());

/** Waits until the page's state (body[data-state]) is `state`. */
async function waitForState(page, state, timeout) {
  await page.waitForSelector(`body[data-state="${state}"]`, { timeout });
}

/** Draws a stroke through `points` (pad coordinates, 0-280) with the mouse. */
async function draw(page, points) {
  const box = await page.locator('#pad').boundingBox();
  const scale = box.width / 280;
  const at = ([x, y]) => [box.x + x * scale, box.y + y * scale];
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 8 });
  await page.mouse.up();
}

test('trains one epoch on the CPU backend to 97% test accuracy, then recognises a drawn 1', { timeout: 900_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const { page, errors } = await openPage(browser, `${server.url}?backend=cpu`);
    await waitForState(page, 'ready', 120_000);
    assert.match(await page.textContent('#data-status'), /60,000 training and 10,000 test images/);
    assert.equal(await page.getAttribute('#data-progress', 'value'), await page.getAttribute('#data-progress', 'max'));
    assert.equal(await page.textContent('#backend'), 'CPU');

    await page.click('#train');
    await page.waitForFunction(() => Number(document.querySelector('#train-progress').value) > 100, null, { timeout: 120_000 });
    const loss = Number(await page.textContent('#stat-loss'));
    assert.ok(loss > 0 && loss < 3, `loss shown during training: ${loss}`);
    assert.ok(Number((await page.textContent('#stat-speed')).replace(/,/g, '')) > 0, 'images per second are shown');
    assert.match(await page.textContent('#stat-epoch'), /^1 \/ 1$/);
    await page.screenshot({ path: `${ARTIFACTS}/training.png`, fullPage: true });

    await waitForState(page, 'trained', 900_000);
    const accuracy = parseFloat(await page.textContent('#test-accuracy'));
    console.log(`test accuracy on the page after one epoch: ${accuracy}%`);
    assert.ok(accuracy >= 97, `test accuracy ${accuracy}%`);

    await draw(page, [[140, 40], [138, 120], [136, 200], [135, 240]]);
    await page.waitForFunction(() => /^\d$/.test(document.querySelector('#prediction').textContent));
    await page.waitForTimeout(300);
    assert.equal(await page.textContent('#prediction'), '1');
    assert.equal(await page.locator('#probabilities li').count(), 10);
    await page.screenshot({ path: `${ARTIFACTS}/trained-and-drawn.png`, fullPage: true });
    assert.deepEqual(errors, []);
    assert.ok(await page.locator('#error').isHidden());
  } finally {
    await browser.close();
  }
});

test('training pauses, resumes and stops, and the draw pad answers while training runs', { timeout: 300_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const { page, errors } = await openPage(browser, `${server.url}?backend=cpu`);
    await waitForState(page, 'ready', 120_000);
    const step = async () => Number(await page.getAttribute('#train-progress', 'value'));
    await page.click('#train');
    await page.waitForFunction(() => Number(document.querySelector('#train-progress').value) > 20, null, { timeout: 60_000 });

    await draw(page, [[140, 40], [138, 140], [136, 240]]);
    await page.waitForFunction(() => /^\d$/.test(document.querySelector('#prediction').textContent), null, { timeout: 10_000 });
    assert.ok((await step()) < 938, 'the prediction came while training was still running');

    await page.click('#pause');
    await waitForState(page, 'paused', 10_000);
    assert.equal(await page.textContent('#pause'), 'Resume');
    const pausedAt = await step();
    await page.waitForTimeout(1500);
    assert.equal(await step(), pausedAt, 'no step is taken while paused');

    await page.click('#pause');
    await page.waitForFunction((at) => Number(document.querySelector('#train-progress').value) > at + 10, pausedAt, { timeout: 30_000 });

    await page.click('#stop');
    await waitForState(page, 'trained', 60_000);
    assert.match(await page.textContent('#train-status'), /^Stopped: /);
    assert.match(await page.textContent('#test-accuracy'), /^\d+\.\d\d%$/);
    assert.ok((await step()) < 938, 'stopped before the end of the epoch');
    await page.screenshot({ path: `${ARTIFACTS}/stopped.png`, fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('auto picks WebGPU when the browser has it and says why it falls back when not', { timeout: 180_000 }, async () => {
  for (const [webgpu, shown] of [[true, 'WebGPU'], [false, 'CPU']]) {
    const browser = await launchBrowser({ webgpu });
    try {
      const { page, errors } = await openPage(browser, server.url);
      await waitForState(page, 'ready', 120_000);
      assert.equal(await page.textContent('#backend'), shown);
      if (!webgpu) assert.match(await page.textContent('#backend-note'), /WebGPU/);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  }
});
