// The npm package as another web app uses it: the packed tarball, installed into this folder's
// app and bundled by Vite (dist/, built by `make test-package`), runs in headless Chromium and
// trains, predicts, saves, reloads, resumes and aborts through the public API.

import assert from 'node:assert/strict';
import { createReadStream, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { launchBrowser } from '../e2e/browser.mjs';

const DIST = fileURLToPath(new URL('./dist/', import.meta.url));
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.gz': 'application/gzip' };

/** Serves dist/ on a free port, as any static host would. */
function serve() {
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(DIST, path.endsWith('/') ? `${path}index.html` : path);
    if (!file.startsWith(DIST) || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(response);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('a Vite app using the packed package trains, predicts, saves, reloads, resumes and aborts', { timeout: 300_000 }, async () => {
  assert.ok(existsSync(join(DIST, 'index.html')), 'run `make test-package` (it builds dist/)');
  const server = await serve();
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => document.querySelector('#status').textContent === 'ready');
    const report = await page.evaluate(() => window.runConsumerTest());
    console.log(`consumer: ${report.steps} steps, losses ${report.losses.map((l) => l.toFixed(3)).join(' ')}, test accuracy ${report.epochs[0]?.evaluation?.accuracy}, checkpoint ${report.checkpointBytes} bytes`);

    assert.equal(report.backend, 'cpu');
    assert.equal(report.trainCount, 60_000);
    assert.equal(report.testCount, 10_000);
    assert.equal(report.steps, 60, '3,000 images in batches of 50: onStep is called for every step');
    assert.deepEqual(report.result, { step: 60, totalSteps: 60, epochsDone: 1 });
    assert.ok(report.losses.length === 6 && report.losses.at(-1) < report.losses[0], `the loss falls: ${report.losses}`);
    assert.equal(report.epochs.length, 1, 'onEpoch is called once per epoch');
    assert.equal(report.epochs[0].epoch, 1);
    assert.ok(report.epochs[0].evaluation.accuracy > 0.7, 'the epoch report carries the test results');
    assert.equal(report.epochs[0].evaluation.perClass.length, 10);
    assert.ok(Math.abs(report.probabilitySum - 1) < 1e-4);
    assert.equal(report.digit, 1, 'a drawn 1 is read as 1 from the canvas');
    assert.equal(report.fromPixels, 1, 'a 28x28 vertical stroke is read as 1');
    assert.ok(report.samePrediction, 'the reloaded checkpoint predicts as the model it saved');
    assert.equal(report.reloadedDigit, 1);
    assert.equal(report.resumedFrom, 60, 'the reloaded run resumes from step 60 to the end of epoch 2');
    assert.match(report.badCheckpoint, /not a LeNet-5 checkpoint/);
    assert.equal(report.abortedWith, 'AbortError');
    assert.equal(report.stepsBeforeAbort, 3, 'no step runs after the signal aborts');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});
