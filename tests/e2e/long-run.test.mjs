// A long run through the npm package in Chromium: 20 epochs on the first 10,000 training images
// (each epoch evaluated on the whole test set), then 10,000 predictions of a drawing as the draw
// pad makes them (a 280x280 canvas), with no crash and no memory growth. What could grow (the
// optimizer state, the autodiff graph, the evaluation's buffers, the callbacks' objects) grows
// per step and per epoch, not per training image, so a sixth of the training set checks the
// same thing in a sixth of the time (about 3 minutes here instead of 10 to 23).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { MNIST_PATHS, launchBrowser, startServer } from './browser.mjs';

const EPOCHS = 20;
const TRAINING_IMAGES = 10_000;
const BATCH = 64;
const PREDICTIONS = 10_000;
/** Growth allowed between the two measurements of each phase. */
const GROWTH = 0.05;
/** JS heap figures move by a few hundred KB with whatever the page happens to hold. */
const HEAP_SLACK = 1 << 20;

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.close());

/** The first `count` items of an IDX file of data/ (the count sits at bytes 4 to 7). */
function firstItems(path, count, itemBytes, headerBytes) {
  const idx = gunzipSync(readFileSync(new URL(`../..${path}`, import.meta.url)));
  const part = Buffer.from(idx.subarray(0, headerBytes + count * itemBytes));
  part.writeUInt32BE(count, 4);
  return part;
}

test(`${EPOCHS} epochs and ${PREDICTIONS.toLocaleString()} draw-pad predictions: no crash, no memory growth`, { timeout: 900_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // A blank page of the server's origin; the package is imported from /pkg/.
    await page.route(`${server.url}long-run.html`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>long run</title>' }));
    await page.goto(`${server.url}long-run.html`);
    const subset = {
      trainImages: firstItems(MNIST_PATHS.trainImages, TRAINING_IMAGES, 784, 16),
      trainLabels: firstItems(MNIST_PATHS.trainLabels, TRAINING_IMAGES, 1, 8),
    };
    for (const [name, body] of Object.entries(subset)) {
      await page.route(`${server.url}subset/${name}`, (route) => route.fulfill({ contentType: 'application/octet-stream', body }));
    }

    // `measure(label)` (called from the page) collects garbage, then records the JS heap and the
    // wasm memory.
    const cdp = await page.context().newCDPSession(page);
    const memory = {};
    await page.exposeFunction('measure', async (label, wasmBytes) => {
      await cdp.send('HeapProfiler.collectGarbage');
      const { usedSize } = await cdp.send('Runtime.getHeapUsage');
      memory[label] = { heap: usedSize, wasm: wasmBytes };
    });

    const report = await page.evaluate(
      async ({ epochs, predictions, mnist }) => {
        const { default: init, LeNet } = await import('/pkg/lenet_web.js');
        const wasm = await init();
        const measure = (label) => window.measure(label, wasm.memory.buffer.byteLength);
        const bytes = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
        const lenet = await LeNet.create('cpu');
        await lenet.loadMnist(mnist);
        const trainingImages = await lenet.loadTrainingSet(await bytes('/subset/trainImages'), await bytes('/subset/trainLabels'));
        const accuracy = [];
        let finiteLosses = true;
        const started = performance.now();
        const result = await lenet.train({
          epochs,
          onStep: (p) => {
            if (p.loss !== undefined && !Number.isFinite(p.loss)) finiteLosses = false;
          },
          onEpoch: async ({ epoch, evaluation }) => {
            accuracy.push(evaluation.accuracy);
            if (epoch === 2 || epoch === epochs) await measure(`epoch ${epoch}`);
          },
        });
        const trainingSeconds = (performance.now() - started) / 1000;

        // A "1" drawn on the pad, a little further right each time.
        const canvas = new OffscreenCanvas(280, 280);
        const ctx = canvas.getContext('2d');
        const digits = new Array(10).fill(0);
        for (let i = 1; i <= predictions; i++) {
          const x = 130 + (i % 20);
          ctx.fillStyle = '#fff';
          ctx.fillRect(0, 0, 280, 280);
          ctx.strokeStyle = '#000';
          ctx.lineWidth = 18;
          ctx.lineCap = 'round';
          ctx.beginPath();
          ctx.moveTo(x, 40);
          ctx.lineTo(x - 4, 240);
          ctx.stroke();
          const prediction = await lenet.predictImage(canvas);
          digits[prediction.digit] += 1;
          if (i === 1_000 || i === predictions) await measure(`prediction ${i}`);
        }
        return { trainingImages, result, accuracy, finiteLosses, trainingSeconds, digits };
      },
      { epochs: EPOCHS, predictions: PREDICTIONS, mnist: MNIST_PATHS },
    );

    const imagesPerSecond = (report.result.totalSteps * BATCH) / report.trainingSeconds;
    console.log(`${EPOCHS} epochs in ${report.trainingSeconds.toFixed(0)} s (about ${imagesPerSecond.toFixed(0)} images/s with evaluations); test accuracy per epoch: ${report.accuracy.map((a) => (a * 100).toFixed(2)).join(' ')}`);
    console.log(`predictions of the drawn 1: ${report.digits.map((n, d) => `${d}: ${n}`).filter((s) => !s.endsWith(': 0')).join(', ')}`);
    console.log(`memory: ${JSON.stringify(memory)}`);

    assert.equal(report.trainingImages, TRAINING_IMAGES);
    const steps = Math.ceil(TRAINING_IMAGES / BATCH) * EPOCHS;
    assert.deepEqual(report.result, { step: steps, totalSteps: steps, epochsDone: EPOCHS });
    assert.ok(report.finiteLosses, 'every loss read back is finite');
    assert.equal(report.accuracy.length, EPOCHS);
    assert.ok(Math.max(...report.accuracy) >= 0.98, `best test accuracy ${Math.max(...report.accuracy)}`);
    assert.equal(report.digits.reduce((a, b) => a + b, 0), PREDICTIONS);
    assert.ok(report.digits[1] >= PREDICTIONS * 0.9, `the drawn 1 is read as 1: ${report.digits}`);
    for (const [from, to] of [[`epoch 2`, `epoch ${EPOCHS}`], ['prediction 1000', `prediction ${PREDICTIONS}`]]) {
      const [a, b] = [memory[from], memory[to]];
      assert.ok(b.wasm <= a.wasm * (1 + GROWTH), `wasm memory ${a.wasm} -> ${b.wasm} bytes from ${from} to ${to}`);
      assert.ok(b.heap <= Math.max(a.heap * (1 + GROWTH), a.heap + HEAP_SLACK), `JS heap ${a.heap} -> ${b.heap} bytes from ${from} to ${to}`);
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
