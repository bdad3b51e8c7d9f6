// The demo page as a person uses it: MNIST downloads (then comes from the cache), training on the
// CPU backend reaches at least 97% test accuracy in one epoch with live charts and results, runs
// are saved every epoch and every 15 seconds and resumed after a reload, checkpoints download and
// load, a corrupt one is refused, a page's checkpoint goes through the native trainer
// (`lenet-train --resume`) and back, the pretrained model answers the draw pad at once, digits
// drawn with the mouse get a prediction, and a digit the model misreads, added to the user's
// examples and fine-tuned on, reads right (after a reload too) until undone. The page
// loads nothing from other origins, under the server's strict Content-Security-Policy, and is
// cross-origin isolated.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ARTIFACTS, bars, draw, launchBrowser, openPage, prediction, startServer, waitForState } from './browser.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.close());

const ONE = [[140, 40], [138, 120], [136, 200], [135, 240]];
const SEVEN = [[70, 60], [210, 60], [150, 150], [120, 245]];
/** A 6 written as a seven-segment display shows it, square: the pretrained model reads a 5. */
const MISREAD = [[[200, 40], [80, 40], [80, 250], [200, 250], [200, 140], [80, 140]]];
const MISREAD_AS = 6;
/** The native trainer, as `make build` compiled it (cargo's dev profile). */
const LENET_TRAIN = new URL('../../target/debug/lenet-train', import.meta.url).pathname;
const DATA = new URL('../../data', import.meta.url).pathname;

test('trains on the CPU with charts, results per epoch and auto-saves; a reload resumes the run without downloading MNIST again', { timeout: 900_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const csp = (await fetch(server.url)).headers.get('content-security-policy');
    assert.match(csp, /^default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; /);
    assert.doesNotMatch(csp, /unsafe-inline|'unsafe-eval'|\*/);
    const { page, errors, requests } = await openPage(browser, `${server.url}?backend=cpu`);
    const mnistRequests = () => requests.filter((url) => url.includes('/data/'));
    await waitForState(page, 'ready', 120_000);
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'the server sends COOP and COEP');
    assert.match(await page.textContent('#data-status'), /downloaded: 60,000 training and 10,000 test images/);
    assert.equal(mnistRequests().length, 4);
    assert.equal(await page.getAttribute('#data-progress', 'value'), await page.getAttribute('#data-progress', 'max'));
    assert.equal(await page.textContent('#backend'), 'CPU');
    // The form holds the package's default settings (LeNet.defaultSettings()).
    const form = {};
    for (const id of ['epochs', 'batch-size', 'learning-rate', 'schedule', 'optimizer', 'augmentation', 'seed']) form[id] = await page.inputValue(`#${id}`);
    assert.deepEqual(form, { epochs: '1', 'batch-size': '64', 'learning-rate': '0.004', schedule: 'oneCycle', optimizer: 'adam', augmentation: 'affine', seed: '42' });

    await page.fill('#epochs', '3');
    await page.click('#train');
    await page.waitForFunction(() => Number(document.querySelector('#train-progress').value) > 100, null, { timeout: 120_000 });
    const loss = Number(await page.textContent('#stat-loss'));
    assert.ok(loss > 0 && loss < 3, `loss shown during training: ${loss}`);
    assert.ok(Number((await page.textContent('#stat-speed')).replace(/,/g, '')) > 0, 'images per second are shown');
    assert.match(await page.textContent('#stat-eta'), /^\d+ (s|min \d\d s)$/);
    assert.match(await page.textContent('#stat-epoch'), /^1 \/ 3$/);
    assert.ok(Number(await page.getAttribute('#epoch-progress', 'value')) > 100);
    assert.equal(await page.getAttribute('#epoch-progress', 'max'), '938');
    assert.equal(await page.getAttribute('#train-progress', 'max'), '2814');
    assert.ok(Number(await page.getAttribute('#loss-chart', 'data-points')) >= 5, 'the loss chart has points');
    assert.equal(await page.locator('#loss-chart canvas').count(), 1);
    await page.screenshot({ path: `${ARTIFACTS}/training.png`, fullPage: true });

    // After epoch 1: test accuracy, per-digit accuracy, confusion matrix, misclassified digits,
    // and the run saved in IndexedDB.
    await page.waitForFunction(() => /Epoch 1 saved/.test(document.querySelector('#checkpoint-status').textContent), null, { timeout: 600_000 });
    const accuracy = parseFloat(await page.textContent('#test-accuracy'));
    console.log(`test accuracy on the page after one epoch: ${accuracy}%, ${await page.textContent('#stat-speed')} images per second`);
    assert.ok(accuracy >= 97, `test accuracy ${accuracy}%`);
    assert.equal(await page.getAttribute('#accuracy-chart', 'data-epochs'), '1');
    assert.equal(await page.locator('#per-class li').count(), 10);
    assert.match(await page.getAttribute('#confusion', 'aria-label'), /Most frequent mistake: \d+ images of \d taken for \d/);
    const shown = await page.locator('#mistakes button').count();
    assert.ok(shown > 0 && shown <= 60, `${shown} misclassified digits shown`);
    await page.locator('#mistakes button').first().click();
    assert.ok(await page.locator('#mistake-detail').isVisible());
    assert.match(await page.textContent('#mistake-text'), /^Test image #\d+: a \d, taken for a \d/);
    assert.equal((await bars(page, '#mistake-probabilities')).length, 10);
    await page.screenshot({ path: `${ARTIFACTS}/results.png`, fullPage: true });
    assert.ok(await page.locator('#error').isHidden(), await page.textContent('#error'));

    // Within epoch 2 the run is saved again (every 15 s); a reload then loses only what came
    // after that save. The saved run comes back with its charts, MNIST from the cache.
    await page.waitForFunction(() => /^Step [\d,]+ \(epoch 2\) saved/.test(document.querySelector('#checkpoint-status').textContent), null, { timeout: 60_000 });
    const saved = (await page.textContent('#checkpoint-status')).match(/^Step ([\d,]+)/)[1];
    await page.reload();
    await waitForState(page, 'trained', 120_000);
    assert.match(await page.textContent('#data-status'), /from this browser’s cache/);
    assert.equal(mnistRequests().length, 4, 'the second visit downloads no MNIST file');
    assert.ok(await page.locator('#saved-run').isVisible());
    assert.equal(await page.textContent('#saved-text'), `Training stopped in epoch 2 of 3, at step ${saved} of 2,814 (Adam, learning rate 0.004 (one cycle), batch 64, augmentation affine). Its model answers the draw pad now. Resume to go on where it stopped.`);
    assert.equal(await page.getAttribute('#accuracy-chart', 'data-epochs'), '1');
    assert.ok(Number(await page.getAttribute('#loss-chart', 'data-points')) >= 40);
    assert.equal(parseFloat(await page.textContent('#test-accuracy')), accuracy);
    assert.equal(await page.locator('#mistakes button').count(), shown, 'the results of epoch 1 are back');
    assert.equal(await page.inputValue('#epochs'), '3');
    await page.screenshot({ path: `${ARTIFACTS}/restored.png`, fullPage: true });

    // The restored model answers the draw pad, then training goes on from the saved step.
    await draw(page, ONE);
    assert.equal((await prediction(page)).digit, '1');
    await page.click('#resume-run');
    const from = Number(saved.replace(/,/g, ''));
    await page.waitForFunction((at) => Number(document.querySelector('#train-progress').value) > at + 10, from, { timeout: 60_000 });
    assert.match(await page.textContent('#stat-epoch'), /^2 \/ 3$/);
    assert.ok(await page.locator('#saved-run').isHidden());
    await page.click('#stop');
    await waitForState(page, 'trained', 120_000);
    assert.ok(parseFloat(await page.textContent('#test-accuracy')) >= 97);
    assert.deepEqual(errors, []);
    assert.ok(await page.locator('#error').isHidden());
    const elsewhere = requests.filter((url) => !url.startsWith(server.url) && !url.startsWith('blob:') && !url.startsWith('data:'));
    assert.deepEqual(elsewhere, [], 'the page loads nothing from other origins');
  } finally {
    await browser.close();
  }
});

test('SGD with augmentation pauses, resumes and stops; the draw pad answers while training runs; undo works', { timeout: 300_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const { page, errors } = await openPage(browser, `${server.url}?backend=cpu`);
    await waitForState(page, 'ready', 120_000);
    const step = async () => Number(await page.getAttribute('#train-progress', 'value'));
    await page.selectOption('#optimizer', 'sgd');
    assert.equal(await page.inputValue('#learning-rate'), '0.01');
    await page.selectOption('#augmentation', 'elastic');
    await page.fill('#seed', '7');
    await page.click('#train');
    await page.waitForFunction(() => Number(document.querySelector('#train-progress').value) > 20, null, { timeout: 60_000 });

    await draw(page, [[140, 40], [138, 140], [136, 240]]);
    await prediction(page);
    assert.ok((await step()) < 938, 'the prediction came while training was still running');
    // "Look inside" follows the weights as training goes on.
    const shown = () => page.textContent('#inside-model');
    await page.waitForFunction(() => /^Showing the run's model after [\d,]+ of 938 steps\.$/.test(document.querySelector('#inside-model').textContent));
    const first = await shown();
    await page.waitForFunction((was) => document.querySelector('#inside-model').textContent !== was, first, { timeout: 10_000 });
    assert.match(await shown(), /^Showing the run's model after [\d,]+ of 938 steps\.$/);

    await page.click('#pause');
    await waitForState(page, 'paused', 10_000);
    assert.equal(await page.textContent('#pause'), 'Resume');
    const pausedAt = await step();
    await page.waitForTimeout(1500);
    assert.equal(await step(), pausedAt, 'no step is taken while paused');

    await page.click('#pause');
    await page.waitForFunction((at) => Number(document.querySelector('#train-progress').value) > at + 10, pausedAt, { timeout: 30_000 });
    const loss = Number(await page.textContent('#stat-loss'));
    assert.ok(Number.isFinite(loss) && loss < 2.5, `SGD with elastic augmentation: loss ${loss}`);
    console.log(`images per second with SGD and elastic augmentation: ${await page.textContent('#stat-speed')}`);

    // Stop while paused: the run ends without being resumed first.
    await page.click('#pause');
    await waitForState(page, 'paused', 10_000);
    await page.click('#stop');
    await waitForState(page, 'trained', 120_000);
    assert.match(await page.textContent('#train-status'), /^Stopped: /);
    assert.match(await page.textContent('#test-accuracy'), /^\d+\.\d\d%$/);
    assert.ok((await step()) < 938, 'stopped before the end of the epoch');

    // Undo takes back the last stroke; undoing the only stroke leaves an empty pad.
    await draw(page, [[60, 60], [220, 60]]);
    await page.waitForTimeout(500);
    await page.click('#undo');
    await page.click('#undo');
    await page.waitForFunction(() => document.querySelector('#prediction').textContent === '–');
    assert.equal(await page.locator('#probabilities li').count(), 0);
    await page.screenshot({ path: `${ARTIFACTS}/stopped.png`, fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('a checkpoint downloads and loads back; a corrupt file is refused and leaves the model unchanged', { timeout: 300_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const { page, errors } = await openPage(browser, `${server.url}?backend=cpu`);
    await waitForState(page, 'ready', 120_000);
    await page.click('#train');
    await page.waitForFunction(() => Number(document.querySelector('#train-progress').value) > 150, null, { timeout: 60_000 });
    await page.click('#stop');
    await waitForState(page, 'trained', 120_000);
    const accuracy = await page.textContent('#test-accuracy');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    assert.equal(download.suggestedFilename(), 'lenet5-mnist.ckpt');
    const saved = readFileSync(await download.path());
    assert.equal(saved.subarray(0, 8).toString(), 'LeNet5ck');
    console.log(`checkpoint file: ${saved.length.toLocaleString()} bytes`);
    assert.match(await page.textContent('#checkpoint-status'), /Checkpoint downloaded \(\d+ KB\)/);

    await draw(page, ONE);
    const before = await prediction(page);

    const corrupt = Buffer.from(saved);
    corrupt[Math.floor(corrupt.length / 2)] ^= 0xff;
    for (const [name, buffer, message] of [
      ['corrupt.ckpt', corrupt, /checkpoint file is damaged/],
      ['notes.txt', Buffer.from('not a checkpoint at all'), /not a LeNet-5 checkpoint/],
    ]) {
      await page.setInputFiles('#load-file', { name, mimeType: 'application/octet-stream', buffer });
      await page.waitForSelector('#error:not([hidden])', { timeout: 10_000 });
      assert.match(await page.textContent('#error'), message);
      assert.match(await page.textContent('#checkpoint-status'), /model in use is unchanged/);
      await page.click('#clear');
      await draw(page, ONE);
      assert.deepEqual(await prediction(page), before, `the model answers as before after ${name}`);
      assert.equal(await page.textContent('#test-accuracy'), accuracy);
    }
    await page.screenshot({ path: `${ARTIFACTS}/corrupt-checkpoint.png`, fullPage: true });

    // A fresh page loads the downloaded file and gets the same model back.
    const fresh = await openPage(browser, `${server.url}?backend=cpu`);
    await waitForState(fresh.page, 'ready', 120_000);
    await fresh.page.setInputFiles('#load-file', { name: 'lenet5-mnist.ckpt', mimeType: 'application/octet-stream', buffer: saved });
    await fresh.page.waitForFunction(() => /^Loaded lenet5-mnist\.ckpt/.test(document.querySelector('#checkpoint-status').textContent), null, { timeout: 30_000 });
    await fresh.page.waitForFunction((a) => document.querySelector('#test-accuracy').textContent === a, accuracy, { timeout: 60_000 });
    await draw(fresh.page, ONE);
    assert.deepEqual(await prediction(fresh.page), before);
    assert.ok(await fresh.page.locator('#mistakes button').count() > 0);
    assert.deepEqual(fresh.errors, []);
    assert.deepEqual(errors.filter((e) => !/damaged|not a LeNet-5/.test(e)), []);

    // The native trainer resumes the page's download to the end of its epoch, and the page loads
    // what it saved.
    const dir = mkdtempSync(join(tmpdir(), 'lenet-e2e-'));
    writeFileSync(join(dir, 'page.ckpt'), saved);
    const native = join(dir, 'lenet5-mnist-native.ckpt');
    const said = execFileSync(LENET_TRAIN, ['--data', DATA, '--resume', join(dir, 'page.ckpt'), '--out', native], { encoding: 'utf8' });
    console.log(said.trim());
    assert.match(said, /^lenet-train: \d+ steps of 938 on cpu ×1, from step (\d+)/);
    assert.ok(Number(said.match(/from step (\d+)/)[1]) > 150, said);
    assert.match(said, /epoch 1: test accuracy (9[89]|100)\./);
    await fresh.page.setInputFiles('#load-file', { name: 'lenet5-mnist-native.ckpt', mimeType: 'application/octet-stream', buffer: readFileSync(native) });
    await fresh.page.waitForFunction(() => /^Loaded lenet5-mnist-native\.ckpt: A model trained for 1 epoch/.test(document.querySelector('#checkpoint-status').textContent), null, { timeout: 30_000 });
    await fresh.page.waitForFunction(() => /^(9[89]|100)\./.test(document.querySelector('#test-accuracy').textContent), null, { timeout: 60_000 });
    assert.equal(await fresh.page.textContent('#test-accuracy'), said.match(/test accuracy ([\d.]+%)/)[1]);
    assert.deepEqual(fresh.errors, []);
  } finally {
    await browser.close();
  }
});

test('the pretrained model, trained natively data-parallel, answers the draw pad at once', { timeout: 180_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const { page, errors } = await openPage(browser, `${server.url}?backend=cpu`);
    await waitForState(page, 'ready', 120_000);
    // Before any training, "Look inside" shows the fresh model's filters, and no layers yet.
    await page.waitForFunction(() => document.querySelector('#inside-model').textContent === 'Showing a fresh model, untrained.');
    assert.deepEqual(await filterCounts(page), { conv1: 6, conv2: 16 });
    assert.equal(await page.locator('#inside-layers canvas').count(), 0);
    const freshFilters = await pixelsOf(page, '#inside-filters canvas');

    await page.click('#pretrained');
    await page.waitForFunction(() => /^Loaded the pretrained model: A model trained for 2 epochs/.test(document.querySelector('#checkpoint-status').textContent), null, { timeout: 30_000 });
    await page.waitForFunction(() => /^(9[89]|100)\./.test(document.querySelector('#test-accuracy').textContent), null, { timeout: 60_000 });
    assert.match(await page.textContent('#train-status'), /^The model in use gets (9[89]|100)\.\d+% of the test images right\. Draw a digit below/);
    for (const [stroke, digit] of [[ONE, '1'], [SEVEN, '7']]) assert.equal(await drawn(page, [stroke]), digit);

    // "Look inside" shows the loaded model's every layer for the 7, and changes with the drawing.
    await page.waitForFunction(() => document.querySelector('#inside-model').textContent === 'Showing the loaded model, trained for 2 epochs.');
    assert.notDeepEqual(await pixelsOf(page, '#inside-filters canvas'), freshFilters, 'the loaded filters');
    await page.waitForFunction(() => document.querySelectorAll('#inside-layers canvas.map').length === 44);
    const maps = await page.$$eval('#inside-layers canvas.map', (all) => all.map((c) => `${c.dataset.layer} ${c.width}x${c.height}`));
    const count = (layer, size) => maps.filter((m) => m === `${layer} ${size}`).length;
    assert.deepEqual([count('conv1', '28x28'), count('pool1', '14x14'), count('conv2', '10x10'), count('pool2', '5x5')], [6, 6, 16, 16]);
    assert.deepEqual(await page.$$eval('#inside-layers canvas.units', (all) => all.map((c) => c.dataset.layer)), ['fc1', 'fc2', 'logits', 'probabilities']);
    await page.waitForTimeout(600); // the last look, for the finished 7
    const seven = await pixelsOf(page, '#inside-layers canvas');
    assert.equal(await drawn(page, [ONE]), '1');
    await page.waitForFunction((was) => {
      const now = [...document.querySelectorAll('#inside-layers canvas')].map((c) => c.toDataURL());
      return now.length === was.length && now.filter((url, i) => url !== was[i]).length >= now.length / 2;
    }, seven, { timeout: 10_000 });
    // Pointing at a map says its layer, channel and value range.
    await page.hover('#inside-layers canvas.map[data-layer="conv2"] >> nth=2');
    assert.match(await page.textContent('#inside-detail'), /^conv2, map 3 of 16: values \d+\.\d\d to \d+\.\d\d$/);
    await page.screenshot({ path: `${ARTIFACTS}/pretrained.png`, fullPage: true });
    // Training from scratch is still the main path.
    assert.equal(await page.isDisabled('#train'), false);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

/** How many filters "Look inside" shows per layer. */
const filterCounts = (page) =>
  page.$$eval('#inside-filters canvas.filter', (all) => all.reduce((n, c) => ({ ...n, [c.dataset.layer]: (n[c.dataset.layer] ?? 0) + 1 }), {}));

/** The pixels of the canvases `selector` finds, as data URLs. */
const pixelsOf = (page, selector) => page.$$eval(selector, (all) => all.map((c) => c.toDataURL()));

/** Draws `strokes` on a cleared pad, moved by `dx` and `dy` and scaled by `scale` about the
 * pad's centre, and returns the prediction. */
async function drawn(page, strokes, { dx = 0, dy = 0, scale = 1 } = {}) {
  await page.click('#clear');
  const at = ([x, y]) => [140 + (x - 140) * scale + dx, 140 + (y - 140) * scale + dy];
  for (const stroke of strokes) await draw(page, stroke.map(at));
  return (await prediction(page)).digit;
}

test('a digit the model misreads, added to my examples and fine-tuned on, reads right, after a reload too; Undo goes back', { timeout: 300_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const { page, errors } = await openPage(browser, `${server.url}?backend=cpu`);
    await waitForState(page, 'ready', 120_000);
    assert.equal(await page.isDisabled('#label-digits button >> nth=0'), true, 'no examples before there is a model');
    await page.click('#pretrained');
    await page.waitForFunction(() => /^(9[89]|100)\./.test(document.querySelector('#test-accuracy').textContent), null, { timeout: 60_000 });
    const before = await drawn(page, MISREAD);
    assert.notEqual(before, MISREAD_AS, 'the pretrained model misreads this way of writing it');
    assert.equal(await page.isDisabled('#fine-tune'), true, 'nothing to fine-tune on yet');

    // Three drawings of it, labelled with the right digit.
    const variants = [{}, { dx: -15, scale: 0.9 }, { dy: 10, scale: 1.1 }];
    for (const [i, variant] of variants.entries()) {
      if (i > 0) await drawn(page, MISREAD, variant);
      await page.click(`#label-digits button >> nth=${MISREAD_AS}`);
      await page.waitForFunction((n) => document.querySelectorAll('#examples .example').length === n, i + 1);
    }
    assert.match(await page.textContent('#teach-status'), new RegExp(`^Added as a ${MISREAD_AS}: 3 examples`));
    assert.equal(await page.textContent('#examples .example-row > span'), String(MISREAD_AS));

    await page.click('#fine-tune');
    await page.waitForFunction(() => /^Fine-tuned on 3 examples in [\d.]+ s/.test(document.querySelector('#teach-status').textContent), null, { timeout: 60_000 });
    console.log(`fine-tuning on the page: ${await page.textContent('#teach-status')}`);
    assert.equal(await drawn(page, MISREAD), String(MISREAD_AS), 'read right after fine-tuning');
    for (const [stroke, digit] of [[ONE, '1'], [SEVEN, '7']]) assert.equal(await drawn(page, [stroke]), digit, 'MNIST-style digits still read right');
    await page.screenshot({ path: `${ARTIFACTS}/fine-tuned.png`, fullPage: true });

    // A reload brings back the examples and the fine-tuned model (saved with the run).
    await page.reload();
    await waitForState(page, 'trained', 120_000);
    await page.waitForFunction(() => document.querySelectorAll('#examples .example').length === 3);
    assert.equal(await drawn(page, MISREAD), String(MISREAD_AS), 'read right after a reload');

    // Undo goes back to the earlier reading; an example can be removed.
    await page.click('#undo-fine-tune');
    await page.waitForFunction(() => document.querySelector('#teach-status').textContent === 'Back to the model before fine-tuning.');
    assert.equal(await drawn(page, MISREAD), before, 'Undo gives back the earlier reading');
    assert.equal(await page.isDisabled('#undo-fine-tune'), true);
    await page.click('#examples .example >> nth=0');
    await page.waitForFunction(() => document.querySelectorAll('#examples .example').length === 2);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('auto takes the faster backend by measurement, remembers it, and says why; keyboard and phone width work', { timeout: 180_000 }, async () => {
  for (const webgpu of [true, false]) {
    const browser = await launchBrowser({ webgpu });
    try {
      const { page, errors } = await openPage(browser, server.url);
      await waitForState(page, 'ready', 120_000);
      const note = await page.textContent('#backend-note');
      // SwiftShader's WebGPU trains far slower than the CPU backend here.
      assert.equal(await page.textContent('#backend'), 'CPU');
      if (webgpu) {
        assert.match(note, /^\(measured [\d,]+ images\/s on WebGPU \(.*swiftshader.*\) and [\d,]+ on the CPU: the CPU trains faster here\)$/i);
        // A reload chooses by the measurement kept in IndexedDB: the same figures.
        await page.reload();
        await waitForState(page, 'ready', 120_000);
        assert.equal(await page.textContent('#backend-note'), note);
      } else {
        assert.match(note, /WebGPU/);
        // Keyboard: Tab reaches the controls, in page order, up to Train.
        const reached = [];
        for (let i = 0; i < 30 && reached.at(-1) !== 'train'; i++) {
          await page.keyboard.press('Tab');
          reached.push(await page.evaluate(() => document.activeElement?.id));
        }
        assert.deepEqual(reached.filter(Boolean), ['backend-choice', 'optimizer', 'epochs', 'batch-size', 'learning-rate', 'schedule', 'augmentation', 'seed', 'train']);
        // Phone width: nothing sticks out sideways.
        await page.setViewportSize({ width: 375, height: 800 });
        await page.waitForTimeout(300);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
        await page.screenshot({ path: `${ARTIFACTS}/phone.png`, fullPage: true });
        assert.ok(await page.locator('#error').isHidden(), await page.textContent('#error'));
      }
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  }
});
