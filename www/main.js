// The demo page: the UI around www/worker.js, which downloads MNIST, trains LeNet-5 and
// classifies what is drawn on the pad, in a module Web Worker so the page stays responsive.

import { createDrawPad } from './drawpad.js';

const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });

/** @param {string} cmd @param {object} [data] */
function send(cmd, data = {}, transfer = []) {
  worker.postMessage({ cmd, ...data }, transfer);
}

function setState(state) {
  document.body.dataset.state = state;
}

function showError(message) {
  const box = $('error');
  box.textContent = `Error: ${message}`;
  box.hidden = false;
}

function readOptions() {
  return {
    epochs: Number($('epochs').value),
    batchSize: Number($('batch-size').value),
    learningRate: Number($('learning-rate').value),
  };
}

function setTraining(training) {
  $('train').disabled = training;
  $('pause').disabled = !training;
  $('stop').disabled = !training;
  $('pause').textContent = 'Pause';
}

function showProgress(p) {
  $('train-progress').max = p.totalSteps;
  $('train-progress').value = p.step;
  $('stat-epoch').textContent = `${p.epoch} / ${p.epochs}`;
  $('stat-step').textContent = `${p.stepInEpoch} / ${p.stepsPerEpoch}`;
  if (p.loss !== undefined) {
    $('stat-loss').textContent = p.loss.toFixed(4);
    $('stat-accuracy').textContent = `${(p.accuracy * 100).toFixed(2)}%`;
    $('stat-speed').textContent = Math.round(p.imagesPerSecond).toLocaleString();
  }
}

/** Shows the 28x28 image the model saw and its probabilities. */
function showPrediction({ image, probabilities, digit }) {
  $('prediction').textContent = String(digit);
  const seen = $('seen').getContext('2d');
  const pixels = seen.createImageData(28, 28);
  image.forEach((v, i) => {
    const grey = Math.round(v * 255);
    pixels.data.set([grey, grey, grey, 255], i * 4);
  });
  seen.putImageData(pixels, 0, 0);
  $('probabilities').replaceChildren(
    ...Array.from(probabilities, (p, d) => {
      const item = document.createElement('li');
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${(p * 100).toFixed(1)}%`;
      item.append(String(d), bar, `${(p * 100).toFixed(1)}%`);
      return item;
    }),
  );
}

let pad;
let predicting = false;
let drawingChanged = false;

/** Asks the worker to classify the drawing; changes made meanwhile wait for its answer. */
function requestPrediction() {
  if (pad.isBlank() || !document.body.dataset.state || document.body.dataset.state === 'starting') return;
  if (predicting) {
    drawingChanged = true;
    return;
  }
  predicting = true;
  drawingChanged = false;
  const image = pad.imageData();
  send('predict', { rgba: image.data, width: image.width, height: image.height }, [image.data.buffer]);
}

const handlers = {
  backend({ backend, fallbackReason }) {
    $('backend').textContent = backend === 'webgpu' ? 'WebGPU' : 'CPU';
    $('backend-note').textContent = fallbackReason ? `(${fallbackReason})` : '';
  },
  download({ loaded, total }) {
    const progress = $('data-progress');
    progress.max = total || 1;
    progress.value = loaded;
    $('data-status').textContent = `Downloading MNIST… ${(loaded / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`;
  },
  ready({ trainCount, testCount }) {
    $('data-progress').value = $('data-progress').max;
    $('data-status').textContent = `MNIST loaded: ${trainCount.toLocaleString()} training and ${testCount.toLocaleString()} test images.`;
    $('train').disabled = false;
    setState('ready');
  },
  training({ backend }) {
    $('train-status').textContent = `Training on ${backend === 'webgpu' ? 'WebGPU' : 'the CPU'}…`;
  },
  progress({ progress }) {
    showProgress(progress);
  },
  paused() {
    $('pause').textContent = 'Resume';
    $('train-status').textContent = 'Paused.';
    setState('paused');
  },
  resumed() {
    $('pause').textContent = 'Pause';
    if (document.body.dataset.state === 'paused') {
      $('train-status').textContent = 'Training…';
      setState('training');
    }
  },
  evaluating() {
    $('pause').disabled = true;
    $('stop').disabled = true;
    $('train-status').textContent = 'Evaluating on the 10,000 test images…';
  },
  evaluated({ evaluation, stopped }) {
    $('test-accuracy').textContent = `${(evaluation.accuracy * 100).toFixed(2)}%`;
    $('train-status').textContent = `${stopped ? 'Stopped' : 'Done'}: ${evaluation.correct.toLocaleString()} of ${evaluation.total.toLocaleString()} test images right. Draw a digit below.`;
    setTraining(false);
    setState('trained');
    requestPrediction();
  },
  prediction(message) {
    showPrediction(message);
    predicting = false;
    if (drawingChanged) requestPrediction();
  },
  error({ message, cmd }) {
    if (cmd === 'predict') predicting = false;
    if (cmd === 'train') {
      $('train-status').textContent = 'Training stopped because of an error.';
      setTraining(false);
      setState('ready');
    }
    if (cmd === 'start') $('data-status').textContent = 'The page could not start.';
    showError(message);
  },
};

function main() {
  window.addEventListener('error', (e) => showError(e.error?.message ?? e.message));
  window.addEventListener('unhandledrejection', (e) => showError(e.reason?.message ?? e.reason));
  worker.addEventListener('message', ({ data }) => handlers[data.status]?.(data));
  worker.addEventListener('error', (e) => showError(e.message || 'the training worker failed to start'));
  pad = createDrawPad($('pad'), requestPrediction);
  $('clear').addEventListener('click', () => {
    pad.clear();
    $('prediction').textContent = '–';
    $('probabilities').replaceChildren();
  });
  $('train-form').addEventListener('submit', (e) => {
    e.preventDefault();
    setTraining(true);
    setState('training');
    $('test-accuracy').textContent = '–';
    send('train', { backend: $('backend-choice').value, options: readOptions() });
  });
  $('pause').addEventListener('click', () => send(document.body.dataset.state === 'paused' ? 'resume' : 'pause'));
  $('stop').addEventListener('click', () => send('stop'));
  const requested = new URLSearchParams(location.search).get('backend');
  if (requested) $('backend-choice').value = requested;
  setState('starting');
  send('start', { backend: $('backend-choice').value });
}

main();
