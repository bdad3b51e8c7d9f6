// The npm package as another web app uses it: the packed tarball, installed into this folder's
// app and bundled by Vite (dist/, built by `make test-package`), runs in headless Chromium and
// trains, predicts, saves, reloads, resumes and aborts through the public API, and loadMnist()
// gets through passing download failures and reports the rest clearly.

import assert from 'node:assert/strict';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { launchBrowser } from '../e2e/browser.mjs';

const DIST = fileURLToPath(new URL('./dist/', import.meta.url));
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.gz': 'application/gzip' };

/** Downloads that go wrong, under /fault/KIND/FILE: `missing` (404), `error` (500 each time),
 * `flaky` (503 the first time), `cut` (the connection drops halfway the first time) and
 * `cut-always`. */
const FAULTS = /^\/fault\/(missing|error|flaky|cut|cut-always|slow)(\/.+)$/;
/** How often each fault URL was asked for. */
const asked = new Map();

/** Answers a fault URL; false for any other. */
function fault(request, response) {
  const [, kind, file] = request.url.match(FAULTS) ?? [];
  if (!kind) return false;
  const tries = (asked.get(request.url) ?? 0) + 1;
  asked.set(request.url, tries);
  const bytes = readFileSync(join(DIST, file));
  if (kind === 'missing') response.writeHead(404).end();
  else if (kind === 'slow') {
    response.writeHead(200, { 'Content-Type': 'application/gzip', 'Content-Length': bytes.length });
    response.write(bytes.subarray(0, 1000));
    setTimeout(() => response.end(bytes.subarray(1000)), 20_000).unref();
  }
  else if (kind === 'error' || (kind === 'flaky' && tries === 1)) response.writeHead(kind === 'error' ? 500 : 503).end();
  else if (kind === 'cut-always' || (kind === 'cut' && tries === 1)) {
    response.writeHead(200, { 'Content-Type': 'application/gzip', 'Content-Length': bytes.length });
    response.write(bytes.subarray(0, bytes.length / 2), () => response.destroy());
  } else response.writeHead(200, { 'Content-Type': 'application/gzip' }).end(bytes);
  return true;
}

/** Serves dist/ on a free port, as any static host would, and the fault URLs. */
function serve() {
  const server = createServer((request, response) => {
    if (fault(request, response)) return;
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(DIST, path.endsWith('/') ? `${path}index.html` : path);
    if (!file.startsWith(DIST) || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': statSync(file).size });
    createReadStream(file).pipe(response);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Opens the consumer app (dist/, built by `make test-package`) in headless Chromium, runs
 * `check(page)` there, and checks the page threw nothing. */
async function inApp(check, { webgpu = false } = {}) {
  assert.ok(existsSync(join(DIST, 'index.html')), 'run `make test-package` (it builds dist/)');
  const server = await serve();
  const browser = await launchBrowser({ webgpu });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => document.querySelector('#status').textContent === 'ready');
    await check(page);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
}

test('a Vite app using the packed package trains, predicts, saves, reloads, resumes and aborts', { timeout: 300_000 }, () =>
  inApp(async (page) => {
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
  }));

test('bad options, aborts (while paused, with a string reason), test images and a backend change follow the package rules', { timeout: 300_000 }, () =>
  inApp(async (page) => {
    const rules = await page.evaluate(() => window.checkRules());
    assert.deepEqual(rules.adam, {
      epochs: 1, batchSize: 64, learningRate: 0.004, schedule: 'oneCycle', optimizer: 'adam', augmentation: 'affine', seed: 42, readEvery: 20,
    });
    assert.equal(rules.sgdLearningRate, 0.01);
    assert.equal(rules.zeroLimit, 'invalid run options: limit must be a whole number of training images, at least 1, not 0');
    assert.match(rules.misspeltResume, /unknown field `epoch`, expected `epochs`/);
    assert.equal(rules.pausedAbort, 'AbortError', 'an abort cuts a paused run short');
    assert.deepEqual(rules.stringReason, { isError: true, name: 'AbortError', message: 'stop now' });
    assert.equal(rules.testImageLength, 784);
    assert.equal(rules.missingTestImage, 'there is no test image 10000: the test set has 10000 (0 to 9999)');
    assert.deepEqual(rules.afterBackendChange, { backend: 'cpu', total: 10_000, samePrediction: true });
  }));

test('loadMnist() retries passing download failures and reports the rest clearly', { timeout: 120_000 }, () =>
  inApp(async (page) => {
    const load = (trainLabels) =>
      page.evaluate((labels) => window.tryLoadMnist({ trainImages: '/train-images-idx3-ubyte.gz', trainLabels: labels }), trainLabels);
    const LABELS = '/train-labels-idx1-ubyte.gz';

    for (const kind of ['flaky', 'cut']) {
      assert.deepEqual(await load(`/fault/${kind}${LABELS}`), { trainCount: 60_000, fromCache: false }, `${kind}: the second try gets the file`);
      assert.equal(asked.get(`/fault/${kind}${LABELS}`), 2);
    }
    assert.match(await load(`/fault/missing${LABELS}`), /^could not download \/fault\/missing\/train-labels-idx1-ubyte\.gz: the server answered 404$/);
    assert.equal(asked.get(`/fault/missing${LABELS}`), 1, 'a missing file is asked for once');
    assert.match(await load(`/fault/error${LABELS}`), /: the server answered 500 \(tried 3 times\)$/);
    assert.equal(asked.get(`/fault/error${LABELS}`), 3);
    assert.match(await load(`/fault/cut-always${LABELS}`), /^could not download \/fault\/cut-always\/train-labels-idx1-ubyte\.gz: .+ \(tried 3 times\)$/);

    const bytes = (data) => page.evaluate((d) => window.tryLoadTrainingSet(new Uint8Array(d.images), new Uint8Array(d.labels)), data);
    const oneImage = [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28, ...new Array(784).fill(0)];
    assert.equal(await bytes({ images: oneImage, labels: [] }), 'the training set could not be loaded: the labels file is empty');
    const cutShort = [...readFileSync(join(DIST, 'train-images-idx3-ubyte.gz')).subarray(0, 1000)];
    assert.match(await bytes({ images: cutShort, labels: [] }), /the images file is not a valid gzip file .*was the download cut short\?/);
  }));

test('the package gives named errors, own data, batch and image predictions, saving and loading anywhere, and downloads with progress, cache and abort', { timeout: 300_000 }, () =>
  inApp(async (page) => {
    const download = page.waitForEvent('download');
    const f = await page.evaluate(() => window.checkFeatures());
    assert.equal((await download).suggestedFilename(), 'consumer-model.ckpt', "save('downloads://consumer-model')");
    assert.equal(f.downloaded.name, 'consumer-model.ckpt');
    assert.equal(f.fileLoaded, f.saved.info.step, 'a checkpoint loads from a File');
    console.log(`features: ${JSON.stringify({ ...f, probabilities: undefined })}`);
    assert.equal(f.version, JSON.parse(readFileSync(new URL('../../pkg/package.json', import.meta.url))).version);
    assert.ok(f.progressCalls > 4 && f.progressDone, 'loadMnist reports its progress to the last byte');
    assert.deepEqual([f.fromCacheFirst, f.fromCacheAgain], [false, true], 'the second load comes from the cache');
    assert.match(f.abortedLoad, /^AbortError: /);
    assert.equal(f.ownCount, 300);
    assert.equal(f.ownTrained, 4, '200 own images in batches of 50');
    const names = Object.fromEntries(Object.entries(f.errorNames).map(([k, v]) => [k, v.split(':')[0]]));
    assert.deepEqual(names, {
      badLabel: 'DatasetError', badLength: 'DatasetError', badLevel: 'DatasetError', notAnArray: 'DatasetError',
      badCheckpoint: 'CheckpointError', notSaved: 'CheckpointError', blank: 'DrawingError', badSettings: 'SettingsError',
      diverged: 'DivergedError', missing: 'DownloadError', noWebGpu: 'WebGpuUnavailableError', aborted: 'AbortError',
    });
    assert.match(f.errorNames.badLabel, /label 10 at position 0 is not a digit 0-9/);
    assert.match(f.errorNames.badLevel, /grey level 2 at position 0 is outside 0-1/);
    assert.match(f.errorNames.notSaved, /no model is saved in this browser as "never-saved"/);
    assert.ok(f.batchMatches, 'predictBatch gives each image its own prediction');
    assert.equal(f.batchLength, 30);
    assert.deepEqual([f.bitmapDigit, f.imageDigit, f.lightOnDarkDigit], [1, 1, 1], 'a 1 from an ImageBitmap, an <img> and light on dark');
    assert.match(f.darkReadAsLight, /^(resolved|DrawingError)/);
    assert.equal(f.saved.name, 'consumer-model');
    assert.ok(f.saved.bytes > 100_000 && f.saved.info.step > 0);
    assert.ok(f.listed.includes('consumer-model'));
    assert.ok(f.weightsOnlySmaller, 'a weights-only export leaves out the optimizer state');
    assert.ok(f.urlLoaded.progressCalls > 0 && f.urlLoaded.samePrediction, 'LeNet.load(url) predicts as the model saved');
    assert.ok(f.blobLoaded);
    assert.match(f.pretrained.url, /\/assets\/lenet5-mnist-pretrained-[\w-]+\.ckpt$/, 'the bundle ships the pretrained model');
    assert.deepEqual([f.pretrained.digit, f.pretrained.epochs], [1, 2], 'the pretrained model reads the 1');
    // Looking inside: every layer in order with its shape, the same forward pass as the
    // prediction, from a canvas or its grey levels; the filters; which model it is.
    assert.deepEqual(f.look.layers, [
      'conv1 6x28x28 4704', 'pool1 6x14x14 1176', 'conv2 16x10x10 1600', 'pool2 16x5x5 400',
      'fc1 120 120', 'fc2 84 84', 'logits 10 10', 'probabilities 10 10',
    ]);
    assert.ok(f.look.lastIsPredict, 'the last layer is what predictImage() gives');
    assert.ok(f.look.sameFromLevels, 'the drawing and its 784 grey levels give the same layers');
    assert.deepEqual(f.look.filters, ['conv1 6x1x5x5 150', 'conv2 16x6x5x5 2400']);
    assert.match(f.look.model, /^the run's model, trained for 1 epoch$/);
    assert.equal(f.look.fresh, 'a fresh model, untrained');
    // Teaching it: examples from a drawing and from grey levels, fine-tuning with a callback per
    // step, the examples and fine-tuned weights in a saved checkpoint, and Undo.
    const t = f.teach;
    assert.equal(t.held, 2);
    assert.deepEqual(t.steps, [1, 2, 3, 4, 5]);
    assert.equal(t.report.steps, 5);
    assert.equal(t.report.examples, 2);
    assert.ok(t.report.loss > 0 && t.report.loss < 3, `loss ${t.report.loss}`);
    assert.deepEqual(t.labels, [1, 1]);
    assert.deepEqual(t.saved, { examples: 2, fineTuned: true });
    assert.deepEqual([t.undone, t.again], [true, false]);
    assert.equal(t.blank, 'DrawingError: nothing is drawn yet');
    assert.equal(t.badLabel, 'DatasetError: the examples are not usable: label 11 at position 0 is not a digit 0-9');

    // After a reload, the model saved in IndexedDB loads with its metadata and predicts as before.
    await page.reload();
    await page.waitForFunction(() => document.querySelector('#status').textContent === 'ready');
    const back = await page.evaluate(() => window.loadSavedModel());
    assert.deepEqual(back.metadata, { note: 'kept' });
    assert.ok(back.probabilities.every((p, i) => Math.abs(p - f.probabilities[i]) < 1e-6), 'the same predictions after a reload');
    assert.equal(back.deleted, true);
    assert.ok(!back.left.includes('consumer-model'), 'deleted models are no longer listed');
  }));

test('LeNet.create({ worker: true }) trains in the package\'s worker with callbacks, pauses, aborts and errors crossing over', { timeout: 300_000 }, () =>
  inApp(async (page) => {
    const w = await page.evaluate(() => window.checkWorker());
    console.log(`worker: ${JSON.stringify({ ...w, steps: w.steps.length })}`);
    assert.equal(w.backend, 'cpu');
    assert.deepEqual(w.steps, Array.from({ length: 20 }, (_, i) => i + 1), 'onStep for every step, in order');
    assert.equal(w.epochs, 1);
    assert.deepEqual(w.result, { step: 20, totalSteps: 20, epochsDone: 1 });
    assert.ok(w.pausedMs >= 490, 'training waited for the promise onStep returned');
    assert.match(w.aborted, /^AbortError: /);
    assert.equal(w.stepsAfterAbort, 0, 'no step runs after the signal aborts');
    assert.ok(w.sameAsInThread, 'a canvas crosses to the worker as its pixels, and the worker\'s model predicts as the same checkpoint does in the app\'s thread');
    assert.ok(w.lookedInWorker, 'activations() of a canvas cross to the worker too');
    assert.match(w.badCheckpoint, /^CheckpointError: this is not a LeNet-5 checkpoint file$/);
    assert.equal(w.loadedInWorker, w.digit, 'LeNet.load(url, { worker: true }) predicts as the model saved');
    assert.match(w.afterFree, /freed/);
  }));

test('a GPU device lost mid-run: the package tells the app and the run goes on on the CPU from its last copy in memory', { timeout: 300_000 }, () =>
  inApp(async (page) => {
    const d = await page.evaluate(() => window.checkDeviceLoss());
    console.log(`device loss: ${JSON.stringify({ ...d, steps: d.steps.join(' ') })}`);
    assert.equal(d.before, 'webgpu');
    assert.equal(d.told.length, 1, 'told once');
    const [{ message, step }] = d.told;
    assert.ok(message.length > 0, 'with the browser\'s reason');
    assert.ok(step >= 0 && step <= 10, `back to step ${step}, its last copy, at most the step of the loss`);
    // The run goes on from the copy: its steps, then the copy's next ones to the end, once each.
    const lostAt = d.steps.indexOf(-10);
    const after = d.steps.slice(lostAt + 1);
    const resumed = after.findIndex((s, i) => i > 0 && s <= after[i - 1]);
    assert.deepEqual(after.slice(Math.max(resumed, 0)), Array.from({ length: 60 - step }, (_, i) => step + 1 + i));
    assert.deepEqual(d.result, { step: 60, totalSteps: 60, epochsDone: 1 });
    assert.equal(d.backend, 'cpu');
    assert.match(d.fallbackReason, /^the GPU device was lost: .+$/);
    assert.equal(d.predicted, 1, 'the model trained through the loss reads a drawn 1');
    assert.match(d.webgpuAgain, /^WebGpuUnavailableError: WebGPU is not available: the GPU device was lost \(Device was destroyed\); a reload, or a model in a new worker, gets a new one$/);
  }, { webgpu: true }));
