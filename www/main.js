// The demo page: downloads MNIST, trains LeNet-5 when asked, evaluates it, and classifies what
// is drawn on the pad. All the model work is done by the wasm package in ../pkg.

import init, { LeNet } from '../pkg/lenet_web.js';
import { downloadMnist } from './mnist.js';
import { createDrawPad } from './drawpad.js';

const $ = (id) => document.getElementById(id);

/** Milliseconds of work between yields to the browser, so the page keeps painting. */
const FRAME_BUDGET_MS = 40;

let lenet = null;
let lenetBackend = null;
let mnist = null;
let stopRequested = false;

/** Calls into the wasm model one at a time (a prediction must not overlap a training step). */
let queue = Promise.resolve();
function withModel(task) {
  const run = queue.then(() => task(lenet));
  queue = run.catch(() => {});
  return run;
}

function setState(state) {
  document.body.dataset.state = state;
}

function showError(error) {
  const box = $('error');
  box.textContent = `Error: ${error?.message ?? error}`;
  box.hidden = false;
  console.error(error);
}

function yieldToBrowser() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Creates the model on the backend chosen in the form, loading the data into it. */
async function createModel(choice) {
  const created = await LeNet.create(choice);
  if (mnist) {
    created.loadTrainingSet(mnist.trainImages, mnist.trainLabels);
    created.loadTestSet(mnist.testImages, mnist.testLabels);
  }
  lenet?.free();
  lenet = created;
  lenetBackend = choice;
  $('backend').textContent = created.backend === 'webgpu' ? 'WebGPU' : 'CPU';
  $('backend-note').textContent = created.fallbackReason ? `(${created.fallbackReason})` : '';
}

async function loadData() {
  setState('loading');
  const progress = $('data-progress');
  mnist = await downloadMnist((loaded, total) => {
    progress.max = total || 1;
    progress.value = loaded;
    $('data-status').textContent = `Downloading MNIST… ${(loaded / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`;
  });
  const trainCount = await withModel((m) => m.loadTrainingSet(mnist.trainImages, mnist.trainLabels));
  const testCount = await withModel((m) => m.loadTestSet(mnist.testImages, mnist.testLabels));
  progress.value = progress.max;
  $('data-status').textContent = `MNIST loaded: ${trainCount.toLocaleString()} training and ${testCount.toLocaleString()} test images.`;
  $('train').disabled = false;
  setState('ready');
}

function readOptions() {
  return {
    epochs: Number($('epochs').value),
    batchSize: Number($('batch-size').value),
    learningRate: Number($('learning-rate').value),
  };
}

function showProgress(p, imagesPerSecond) {
  $('train-progress').max = p.totalSteps;
  $('train-progress').value = p.step;
  $('stat-epoch').textContent = `${p.epoch} / ${p.epochs}`;
  $('stat-step').textContent = `${p.stepInEpoch} / ${p.stepsPerEpoch}`;
  if (p.loss !== undefined) {
    $('stat-loss').textContent = p.loss.toFixed(4);
    $('stat-accuracy').textContent = `${(p.accuracy * 100).toFixed(2)}%`;
    $('stat-speed').textContent = Math.round(imagesPerSecond).toLocaleString();
  }
}

async function train() {
  $('train').disabled = true;
  $('stop').disabled = false;
  stopRequested = false;
  setState('training');
  $('test-accuracy').textContent = '–';
  try {
    const choice = $('backend-choice').value;
    if (choice !== lenetBackend) await withModel(() => createModel(choice));
    await withModel((m) => m.startTraining(readOptions()));
    $('train-status').textContent = `Training on ${lenet.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}…`;
    let mark = { time: performance.now(), images: 0 };
    let lastYield = performance.now();
    for (;;) {
      if (stopRequested) {
        await withModel((m) => m.stopTraining());
        break;
      }
      const p = await withModel((m) => m.step());
      if (!p) break;
      if (p.loss !== undefined) {
        const now = performance.now();
        showProgress(p, ((p.imagesSeen - mark.images) * 1000) / (now - mark.time));
        mark = { time: now, images: p.imagesSeen };
      } else {
        showProgress(p, 0);
      }
      if (performance.now() - lastYield > FRAME_BUDGET_MS) {
        await yieldToBrowser();
        lastYield = performance.now();
      }
    }
    $('train-status').textContent = 'Evaluating on the 10,000 test images…';
    await yieldToBrowser();
    const evaluation = await withModel((m) => m.evaluate());
    $('test-accuracy').textContent = `${(evaluation.accuracy * 100).toFixed(2)}%`;
    $('train-status').textContent =
      `${stopRequested ? 'Stopped' : 'Done'}: ${evaluation.correct.toLocaleString()} of ${evaluation.total.toLocaleString()} test images right. Draw a digit below.`;
    setState('trained');
    predictDrawing();
  } catch (e) {
    showError(e);
    $('train-status').textContent = 'Training stopped because of an error.';
    setState('ready');
  } finally {
    $('train').disabled = false;
    $('stop').disabled = true;
  }
}

/** Shows the 28x28 image the model saw and its probabilities. */
function showPrediction(prediction) {
  $('prediction').textContent = String(prediction.digit);
  const seen = $('seen').getContext('2d');
  const pixels = seen.createImageData(28, 28);
  prediction.image.forEach((v, i) => {
    const grey = Math.round(v * 255);
    pixels.data.set([grey, grey, grey, 255], i * 4);
  });
  seen.putImageData(pixels, 0, 0);
  const list = $('probabilities');
  list.replaceChildren(
    ...Array.from(prediction.probabilities, (p, digit) => {
      const item = document.createElement('li');
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${(p * 100).toFixed(1)}%`;
      item.append(String(digit), bar, `${(p * 100).toFixed(1)}%`);
      return item;
    }),
  );
}

let pad;
let predicting = false;
let drawingChanged = false;

/** Classifies the pad's drawing; while one prediction runs, later changes wait for it. */
async function predictDrawing() {
  if (!lenet || pad.isBlank()) return;
  if (predicting) {
    drawingChanged = true;
    return;
  }
  predicting = true;
  try {
    do {
      drawingChanged = false;
      const image = pad.imageData();
      const prediction = await withModel((m) => m.predictDrawing(image.data, image.width, image.height));
      showPrediction(prediction);
      prediction.free();
    } while (drawingChanged);
  } catch (e) {
    showError(e);
  } finally {
    predicting = false;
  }
}

async function main() {
  window.addEventListener('error', (e) => showError(e.error ?? e.message));
  window.addEventListener('unhandledrejection', (e) => showError(e.reason));
  pad = createDrawPad($('pad'), predictDrawing);
  $('clear').addEventListener('click', () => {
    pad.clear();
    $('prediction').textContent = '–';
    $('probabilities').replaceChildren();
  });
  $('train-form').addEventListener('submit', (e) => {
    e.preventDefault();
    train();
  });
  $('stop').addEventListener('click', () => {
    stopRequested = true;
  });
  const requested = new URLSearchParams(location.search).get('backend');
  if (requested) $('backend-choice').value = requested;

  await init();
  await createModel($('backend-choice').value);
  await loadData();
}

main().catch((e) => {
  showError(e);
  $('data-status').textContent = 'The page could not start.';
});
