// The demo page when things go wrong: every way an MNIST download or file can be bad gets a
// clear message (passing failures are retried, and "Try again" starts over), a learning rate of
// 10 stops training with the last good weights still answering the draw pad, WebGPU asked for
// but missing falls back to the CPU, and a GPU device lost mid-training moves the run to the
// CPU, which goes on from its last copy in memory.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { ARTIFACTS, draw, launchBrowser, openPage, prediction, startServer, waitForState } from './browser.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.close());

const data = (name) => readFileSync(new URL(`../../data/${name}.gz`, import.meta.url));
/** An IDX header: the magic number, then the big-endian dimensions. */
function idxHeader(magic, dims) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return header;
}
const testImages = gunzipSync(data('t10k-images-idx3-ubyte'));
const testLabels = gunzipSync(data('t10k-labels-idx1-ubyte'));

/** Each bad file: which file it replaces, the answer the server gives, what the page must say. */
const BAD_FILES = [
  ['a missing file', 'train-labels-idx1-ubyte', { status: 404 }, /train-labels-idx1-ubyte\.gz: the server answered 404/, 1],
  ['a server error', 't10k-labels-idx1-ubyte', { status: 500 }, /the server answered 500 .*\(tried 3 times\)/, 3],
  ['a stream that is not gzip', 't10k-images-idx3-ubyte', { body: Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) }, /the test set could not be loaded: the images file is not a valid gzip file/],
  ['a download cut off midway', 't10k-images-idx3-ubyte', { body: data('t10k-images-idx3-ubyte').subarray(0, 600_000) }, /the test set could not be loaded: the images file is not a valid gzip file \(.+\): was the download cut short\?/],
  ['a wrong magic number', 't10k-labels-idx1-ubyte', { body: gzipSync(Buffer.concat([idxHeader(0x804, [10_000]), testLabels.subarray(8)])) }, /does not start with the IDX magic number 0x00000801 \(found 0x00000804\)/],
  ['image and label counts that disagree', 't10k-labels-idx1-ubyte', { body: gzipSync(Buffer.concat([idxHeader(0x801, [9_999]), testLabels.subarray(8, -1)])) }, /^Error: the test set could not be loaded: the images file holds 10000 images but the labels file holds 9999 labels$/],
  ['a wrong image size', 't10k-images-idx3-ubyte', { body: gzipSync(Buffer.concat([idxHeader(0x803, [100, 32, 32]), Buffer.alloc(100 * 32 * 32)])) }, /images are 32x32 pixels; MNIST images are 28x28/],
  ['a truncated file', 't10k-images-idx3-ubyte', { body: gzipSync(testImages.subarray(0, testImages.length / 2)) }, /images file should hold 7840000 bytes after its header but holds 3919992: it is truncated/],
  ['an empty file', 't10k-labels-idx1-ubyte', { body: Buffer.alloc(0) }, /the labels file is empty/],
];

/** Opens the page in a fresh browser context (its own, empty MNIST cache) with `file` answered
 * by `handle(route, tries)`; returns the page and how often the file was asked for. */
async function openWithFile(browser, file, handle) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 1400 } });
  const requests = { count: 0 };
  await context.route(`**/data/${file}.gz`, (route) => handle(route, ++requests.count));
  const { page, errors } = await openPage(context, `${server.url}?backend=cpu`);
  return { page, errors, requests, context };
}

test('bad MNIST files and downloads get a clear message, and no hang', { timeout: 300_000 }, async () => {
  const browser = await launchBrowser();
  try {
    for (const [what, file, answer, message, tries] of BAD_FILES) {
      const { page, requests, context } = await openWithFile(browser, file, (route) =>
        route.fulfill({ status: answer.status ?? 200, contentType: 'application/gzip', body: answer.body ?? '' }),
      );
      await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
      const shown = await page.textContent('#error');
      assert.match(shown, message, what);
      assert.equal(await page.textContent('#data-status'), 'The page could not start.', what);
      assert.ok(await page.locator('#retry-start').isVisible(), `${what}: the page offers to try again`);
      assert.ok(await page.locator('#train').isDisabled(), what);
      if (tries) assert.equal(requests.count, tries, `${what}: asked for ${requests.count} times`);
      console.log(`${what}: ${shown}`);
      await context.close();
    }
  } finally {
    await browser.close();
  }
});

test('passing download failures are retried, and "Try again" starts over', { timeout: 300_000 }, async () => {
  const browser = await launchBrowser();
  try {
    // A server error and a dropped connection, once each: the second try gets the file.
    for (const [what, fail] of [
      ['a server error', (route) => route.fulfill({ status: 503, body: 'busy' })],
      ['a dropped connection', (route) => route.abort('connectionreset')],
    ]) {
      const { page, errors, requests, context } = await openWithFile(browser, 'train-images-idx3-ubyte', (route, n) =>
        n === 1 ? fail(route) : route.continue(),
      );
      await waitForState(page, 'ready', 120_000);
      assert.equal(requests.count, 2, what);
      assert.match(await page.textContent('#data-status'), /60,000 training and 10,000 test images/);
      assert.ok(await page.locator('#error').isHidden(), what);
      assert.deepEqual(errors, [], what);
      await context.close();
    }

    // A missing file is not retried by itself; once it is back, "Try again" loads MNIST.
    const { page, requests, context } = await openWithFile(browser, 'train-labels-idx1-ubyte', (route, n) =>
      n === 1 ? route.fulfill({ status: 404 }) : route.continue(),
    );
    await page.waitForSelector('#retry-start:not([hidden])', { timeout: 60_000 });
    assert.equal(requests.count, 1);
    await page.click('#retry-start');
    await waitForState(page, 'ready', 120_000);
    assert.ok(await page.locator('#error').isHidden());
    assert.ok(await page.locator('#retry-start').isHidden());
    await context.close();
  } finally {
    await browser.close();
  }
});

test('a learning rate of 10 stops training with a message; the last good weights still answer', { timeout: 180_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const { page, errors } = await openPage(browser, `${server.url}?backend=cpu`);
    await waitForState(page, 'ready', 120_000);
    await page.fill('#learning-rate', '10');
    await page.selectOption('#schedule', 'constant');
    await page.click('#train');
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    assert.match(await page.textContent('#error'), /the loss became [\d.e+]+ at step \d+: training diverged and stopped, and the weights of step \d+, the last known good, are back in use/);
    assert.equal(await page.textContent('#train-status'), 'Training stopped because of an error.');
    await waitForState(page, 'ready');
    await draw(page, [[140, 40], [138, 140], [136, 240]]);
    const { bars } = await prediction(page);
    assert.equal(bars.length, 10);
    assert.ok(bars.every((bar) => /^\d\d{1,3}\.\d%$/.test(bar)), `finite probabilities: ${bars}`);
    await page.screenshot({ path: `${ARTIFACTS}/diverged.png`, fullPage: true });
    assert.deepEqual(errors.filter((e) => !/diverged/.test(e)), []);
  } finally {
    await browser.close();
  }
});

test('WebGPU asked for but missing falls back to the CPU and says why', { timeout: 120_000 }, async () => {
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, `${server.url}?backend=webgpu`);
    await waitForState(page, 'ready', 120_000);
    assert.equal(await page.textContent('#backend'), 'CPU');
    assert.match(await page.textContent('#backend-note'), /WebGPU is not available/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('a GPU device lost mid-training moves the run to the CPU, which goes on from its last copy in memory', { timeout: 300_000 }, async () => {
  const browser = await launchBrowser({ webgpu: true });
  try {
    const { page } = await openPage(browser, `${server.url}?backend=webgpu`);
    await waitForState(page, 'ready', 120_000);
    assert.equal(await page.textContent('#backend'), 'WebGPU');
    await page.click('#train');
    // SwiftShader's WebGPU takes about 1.6 s a step here.
    await page.waitForFunction(() => Number(document.querySelector('#train-progress').value) >= 30, null, { timeout: 180_000 });

    // The GPU goes away: the next command encoder the trainer asks for finds its device destroyed.
    const [worker] = page.workers();
    const lostAt = await worker.evaluate(() => {
      const proto = GPUDevice.prototype;
      const create = proto.createCommandEncoder;
      proto.createCommandEncoder = function (...args) {
        proto.createCommandEncoder = create;
        this.destroy();
        return create.apply(this, args);
      };
    }).then(() => page.getAttribute('#train-progress', 'value').then(Number));
    await page.waitForSelector('#notice:not([hidden])', { timeout: 60_000 });
    const notice = await page.textContent('#notice');
    const match = notice.match(/^The GPU device was lost \([^.]+\)\. Training continues on the CPU from step ([\d,]+), its last copy in memory\.$/);
    assert.ok(match, notice);
    // The copy is at most 5 seconds old: the run goes back a little, not to a save or its start.
    const copy = Number(match[1].replaceAll(',', ''));
    assert.ok(copy > 0 && copy <= lostAt + 5, `went back to step ${copy}, lost at ${lostAt}`);
    assert.equal(await page.textContent('#train-status'), 'Training on the CPU…');
    assert.equal(await page.textContent('#backend'), 'CPU');
    assert.match(await page.textContent('#backend-note'), /the GPU device was lost/);
    await page.waitForFunction((at) => Number(document.querySelector('#train-progress').value) > at + 50, copy, { timeout: 60_000 });
    await page.screenshot({ path: `${ARTIFACTS}/device-lost.png`, fullPage: true });
    await page.click('#stop');
    await waitForState(page, 'trained', 120_000);
    assert.ok(await page.locator('#error').isHidden(), await page.textContent('#error'));
  } finally {
    await browser.close();
  }
});
