// The demo page: the UI around www/run.js, which has the npm package load MNIST, train LeNet-5,
// evaluate it, save checkpoints and classify what is drawn on the pad, with the model in the
// package's own Web Worker so the page stays responsive. When the GPU device is lost, the
// package goes on on the CPU from its last copy in memory, and the page says so.

import { createCharts } from './charts.js';
import { createDrawPad } from './drawpad.js';
import { createInside } from './inside.js';
import { createRun } from './run.js';

const $ = (id) => document.getElementById(id);
/** The run (www/run.js). */
let trainer;

/** The package's default settings per optimizer (`LeNet.defaultSettings`), sent by the run. */
let defaults = null;
const percent = (fraction, digits = 2) => `${(fraction * 100).toFixed(digits)}%`;

/** @param {string} cmd @param {object} [data] */
function send(cmd, data = {}) {
  trainer.send(cmd, data);
}

const state = () => document.body.dataset.state;
function setState(next) {
  document.body.dataset.state = next;
  const training = next === 'training' || next === 'paused';
  $('train').disabled = training || next === 'starting';
  $('resume-run').disabled = training || next === 'starting';
  $('pause').disabled = !training;
  $('stop').disabled = !training;
  $('pause').textContent = next === 'paused' ? 'Resume' : 'Pause';
  $('load-file').disabled = training || next === 'starting';
  $('pretrained').disabled = training || next === 'starting';
  updateTeach();
  requestLook();
}

function showError(message) {
  const box = $('error');
  box.textContent = `Error: ${message}`;
  box.hidden = false;
}

function clearError() {
  $('error').hidden = true;
}

/** Tells the user something that went wrong and was dealt with. */
function showNotice(message) {
  $('notice').textContent = message;
  $('notice').hidden = false;
}

function readOptions() {
  return {
    epochs: Number($('epochs').value),
    batchSize: Number($('batch-size').value),
    learningRate: Number($('learning-rate').value),
    schedule: $('schedule').value,
    optimizer: $('optimizer').value,
    augmentation: $('augmentation').value,
    seed: Number($('seed').value),
  };
}

/** Puts a run's settings back in the form (for a restored or loaded checkpoint). */
function showOptions(config) {
  $('epochs').value = config.epochs;
  $('batch-size').value = config.batchSize;
  $('learning-rate').value = config.learningRate;
  $('schedule').value = config.schedule;
  $('optimizer').value = config.optimizer;
  $('augmentation').value = config.augmentation;
  $('seed').value = config.seed;
}

/** Fills `list` with one labelled bar per value (fractions 0-1). */
function showBars(list, values, highlight = -1) {
  list.replaceChildren(
    ...Array.from(values, (value, digit) => {
      const item = document.createElement('li');
      const bar = document.createElement('span');
      bar.className = digit === highlight ? 'bar highlight' : 'bar';
      bar.style.width = percent(value, 1);
      item.append(String(digit), bar, percent(value, 1));
      return item;
    }),
  );
}

/** Draws a 28x28 digit; `scale` maps a value to 0-255 (1 for bytes, 255 for 0-1 floats). */
function drawDigit(canvas, values, scale) {
  const ctx = canvas.getContext('2d');
  const pixels = ctx.createImageData(28, 28);
  values.forEach((v, i) => {
    const grey = Math.round(v * scale);
    pixels.data.set([grey, grey, grey, 255], i * 4);
  });
  ctx.putImageData(pixels, 0, 0);
}

// Training progress and charts.

const charts = createCharts($('loss-chart'), $('accuracy-chart'));
let history = { steps: [], loss: [], accuracy: [], epochs: [] };
let batchSize = 64;

function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

function showProgress(p) {
  $('epoch-progress').max = p.stepsPerEpoch;
  $('epoch-progress').value = p.stepInEpoch;
  $('train-progress').max = p.totalSteps;
  $('train-progress').value = p.step;
  $('stat-epoch').textContent = `${p.epoch} / ${p.epochs}`;
  $('stat-step').textContent = `${p.stepInEpoch} / ${p.stepsPerEpoch}`;
  if (p.loss !== undefined) {
    $('stat-loss').textContent = p.loss.toFixed(4);
    $('stat-accuracy').textContent = percent(p.accuracy);
    history.steps.push(p.step);
    history.loss.push(p.loss);
    history.accuracy.push(p.accuracy);
    charts.show(history);
  }
  if (p.imagesPerSecond) {
    $('stat-speed').textContent = Math.round(p.imagesPerSecond).toLocaleString();
    $('stat-eta').textContent = formatDuration(((p.totalSteps - p.step) * batchSize) / p.imagesPerSecond);
  }
}

// Results: per-digit accuracy, the confusion matrix and the misclassified digits.

function showConfusion(confusion) {
  const canvas = $('confusion');
  const ctx = canvas.getContext('2d');
  const margin = 30;
  const cell = (canvas.width - margin) / 10;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = '12px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  for (let row = 0; row < 10; row++) {
    const total = confusion[row].reduce((a, b) => a + b, 0) || 1;
    ctx.fillStyle = '#1b1f24';
    ctx.fillText(String(row), margin / 2, margin + (row + 0.5) * cell);
    ctx.fillText(String(row), margin + (row + 0.5) * cell, margin / 2);
    for (let col = 0; col < 10; col++) {
      const count = confusion[row][col];
      // Square root, so that a few mistakes still show against the full diagonal.
      const heat = Math.sqrt(count / total);
      const x = margin + col * cell;
      const y = margin + row * cell;
      ctx.fillStyle = `rgb(${255 - heat * 244}, ${255 - heat * 163}, ${255 - heat * 82})`;
      ctx.fillRect(x, y, cell - 1, cell - 1);
      if (count) {
        ctx.fillStyle = heat > 0.5 ? '#fff' : '#1b1f24';
        ctx.fillText(String(count), x + cell / 2, y + cell / 2, cell - 2);
      }
    }
  }
  const mistakes = confusion.flatMap((row, t) => row.map((n, p) => ({ n, t, p }))).filter((c) => c.t !== c.p && c.n);
  const worst = mistakes.sort((a, b) => b.n - a.n)[0];
  canvas.setAttribute(
    'aria-label',
    `Confusion matrix. ${worst ? `Most frequent mistake: ${worst.n} images of ${worst.t} taken for ${worst.p}.` : 'No mistakes.'}`,
  );
}

function showMistake(mistake, button) {
  for (const b of $('mistakes').querySelectorAll('[aria-pressed]')) b.setAttribute('aria-pressed', 'false');
  button.setAttribute('aria-pressed', 'true');
  $('mistake-detail').hidden = false;
  drawDigit($('mistake-image'), mistake.pixels, 1);
  $('mistake-text').textContent = `Test image #${mistake.index}: a ${mistake.label}, taken for a ${mistake.predicted} (${percent(mistake.probabilities[mistake.predicted], 1)} sure).`;
  showBars($('mistake-probabilities'), mistake.probabilities, mistake.predicted);
}

function showMistakes(mistakes, count) {
  $('mistakes-note').textContent = count
    ? `${count.toLocaleString()} test digits are misclassified${count > mistakes.length ? `; the first ${mistakes.length} are shown` : ''}. Select one to see the model's probabilities.`
    : 'No test digit is misclassified.';
  $('mistake-detail').hidden = true;
  $('mistakes').replaceChildren(
    ...mistakes.map((mistake) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'mistake';
      button.setAttribute('aria-pressed', 'false');
      button.setAttribute('aria-label', `Test image ${mistake.index}: true ${mistake.label}, predicted ${mistake.predicted}`);
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = 28;
      drawDigit(canvas, mistake.pixels, 1);
      const caption = document.createElement('span');
      caption.textContent = `${mistake.label}→${mistake.predicted}`;
      button.append(canvas, caption);
      button.addEventListener('click', () => showMistake(mistake, button));
      return button;
    }),
  );
}

function showResults({ evaluation, mistakes, mistakeCount }) {
  $('results-empty').hidden = true;
  $('results-body').hidden = false;
  showBars($('per-class'), evaluation.perClass);
  showConfusion(evaluation.confusion);
  showMistakes(mistakes, mistakeCount);
}

// The draw pad.

let pad;
let predicting = false;
let drawingChanged = false;

function showPrediction({ image, probabilities, digit }) {
  $('prediction').textContent = String(digit);
  drawDigit($('seen'), image, 255);
  showBars($('probabilities'), probabilities, digit);
}

function clearPrediction() {
  $('prediction').textContent = '–';
  $('probabilities').replaceChildren();
  $('seen').getContext('2d').clearRect(0, 0, 28, 28);
}

/** Asks the run to classify the drawing; changes made meanwhile wait for its answer. */
function requestPrediction() {
  requestLook();
  if (pad.isBlank()) {
    clearPrediction();
    return;
  }
  if (!state() || state() === 'starting') return;
  if (predicting) {
    drawingChanged = true;
    return;
  }
  predicting = true;
  drawingChanged = false;
  send('predict', { image: pad.imageData() });
}

// Look inside: each layer's output for the drawing, and the filters, following the drawing and
// the weights as training goes on.

/** The least time between two looks: at most four a second. While a run trains, the run does each
 * at its next read-back of the loss (www/run.js), which paces them further. */
const LOOK_EVERY_MS = 250;
let inside;
let look = { busy: false, again: false, last: -Infinity, timer: null };

/** Asks the run for a look at the drawing now, or as soon as the last one is shown and enough
 * time has passed; nothing while the panel is closed. */
function requestLook() {
  if (!inside.isOpen() || !state() || state() === 'starting') return;
  if (look.busy) {
    look.again = true;
    return;
  }
  const wait = look.last + LOOK_EVERY_MS - performance.now();
  if (wait > 0) {
    look.timer ??= setTimeout(() => {
      look.timer = null;
      requestLook();
    }, wait);
    return;
  }
  look = { ...look, busy: true, again: false, last: performance.now() };
  send('look', { image: pad.isBlank() ? null : pad.imageData() });
}

// Teaching it the user's handwriting: examples and fine-tuning.

/** The examples as the run last sent them, and whether the model in use is fine-tuned. */
let teach = { examples: [], fineTuned: false, busy: false };

/** Enables what can be done now: examples and fine-tuning need a trained or loaded model. */
function updateTeach() {
  const ready = state() === 'trained' && !teach.busy;
  for (const button of $('label-digits').children) button.disabled = !ready;
  $('fine-tune').disabled = !ready || teach.examples.length === 0;
  $('undo-fine-tune').disabled = !ready || !teach.fineTuned;
}

/** The examples, one row per digit; selecting one removes it. */
function showExamples() {
  const rows = [];
  for (let digit = 0; digit < 10; digit++) {
    const mine = teach.examples.map((e, index) => ({ ...e, index })).filter((e) => e.label === digit);
    if (mine.length === 0) continue;
    const row = document.createElement('div');
    row.className = 'example-row';
    const label = document.createElement('span');
    label.textContent = String(digit);
    row.append(label);
    for (const { image, index } of mine) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'example';
      button.title = `Remove this ${digit} from your examples`;
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = 28;
      drawDigit(canvas, image, 255);
      button.append(canvas);
      button.addEventListener('click', () => {
        teach.busy = true;
        updateTeach();
        send('remove-example', { index });
      });
      row.append(button);
    }
    rows.push(row);
  }
  $('examples').replaceChildren(...rows);
  updateTeach();
}

function addExample(label) {
  if (pad.isBlank()) {
    $('teach-status').textContent = 'Draw a digit on the pad first.';
    return;
  }
  teach.busy = true;
  updateTeach();
  send('add-example', { image: pad.imageData(), label });
}

// Checkpoints.

function describeRun(info) {
  const { config } = info;
  const how = `${config.optimizer === 'sgd' ? 'SGD' : 'Adam'}, learning rate ${config.learningRate} (${config.schedule === 'constant' ? 'constant' : 'one cycle'}), batch ${config.batchSize}, augmentation ${config.augmentation}`;
  if (info.finished) return `A model trained for ${config.epochs} epoch${config.epochs === 1 ? '' : 's'} (${how}).`;
  if (info.step % info.stepsPerEpoch === 0) return `Training stopped after epoch ${info.epochsDone} of ${config.epochs} (${how}).`;
  return `Training stopped in epoch ${info.epochsDone + 1} of ${config.epochs}, at step ${info.step.toLocaleString()} of ${info.totalSteps.toLocaleString()} (${how}).`;
}

const handlers = {
  defaults(settings) {
    // The form starts from them; a retried start leaves the form as it is.
    if (!defaults) showOptions(settings.adam);
    defaults = settings;
  },
  backend({ backend, fallbackReason, calibration }) {
    $('backend').textContent = backend === 'webgpu' ? 'WebGPU' : 'CPU';
    const measured = calibration && !fallbackReason
      ? `chosen by measurement: ${Math.round(calibration.webgpu).toLocaleString('en')} images/s on WebGPU, ${Math.round(calibration.cpu).toLocaleString('en')} on the CPU`
      : fallbackReason;
    $('backend-note').textContent = measured ? `(${measured})` : '';
  },
  download({ loaded, total }) {
    const progress = $('data-progress');
    progress.max = total || 1;
    progress.value = loaded;
    $('data-status').textContent = `Downloading MNIST… ${(loaded / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`;
  },
  ready({ trainCount, testCount, cached }) {
    $('data-progress').value = $('data-progress').max;
    $('data-status').textContent = `MNIST ${cached ? 'loaded from this browser’s cache' : 'downloaded'}: ${trainCount.toLocaleString()} training and ${testCount.toLocaleString()} test images.`;
    $('data-status').dataset.cached = String(cached);
    $('download').disabled = false;
    setState('ready');
  },
  saved({ info, history: saved, results }) {
    history = saved;
    charts.show(history);
    if (results) showResults(results);
    showOptions(info.config);
    $('saved-text').textContent = `${describeRun(info)} Its model answers the draw pad now.${info.finished ? '' : ' Resume to go on where it stopped.'}`;
    $('resume-run').hidden = info.finished;
    $('saved-run').hidden = false;
    const last = history.epochs.at(-1);
    if (last) $('test-accuracy').textContent = percent(last.accuracy);
    setState('trained');
  },
  training({ backend, history: current }) {
    history = current;
    charts.show(history);
    $('saved-run').hidden = true;
    $('train-status').textContent = `Training on ${backend === 'webgpu' ? 'WebGPU' : 'the CPU'}…`;
    setState('training');
  },
  progress({ progress }) {
    showProgress(progress);
    requestLook();
  },
  paused() {
    $('train-status').textContent = 'Paused.';
    setState('paused');
  },
  resumed() {
    if (state() === 'paused') {
      $('train-status').textContent = 'Training…';
      setState('training');
    }
  },
  evaluating() {
    $('train-status').textContent = 'Evaluating on the 10,000 test images…';
  },
  evaluated(message) {
    const { evaluation, epoch } = message;
    $('test-accuracy').textContent = percent(evaluation.accuracy);
    if (epoch) {
      history.epochs.push(epoch);
      charts.show(history);
    }
    showResults(message);
    if (state() === 'training') {
      $('train-status').textContent = `Epoch ${epoch?.epoch ?? ''} done: ${percent(evaluation.accuracy)} of the test images right. Training…`;
    } else {
      $('train-status').textContent = `The model in use gets ${percent(evaluation.accuracy)} of the test images right. Draw a digit below, or train one from scratch.`;
    }
  },
  autosaved({ epoch, step, epochDone, bytes }) {
    const what = epochDone ? `Epoch ${epoch}` : `Step ${step.toLocaleString()} (epoch ${epoch})`;
    $('checkpoint-status').textContent = `${what} saved in this browser (${(bytes / 1024).toFixed(0)} KB).`;
  },
  'device-lost'({ message, step, training, history: kept }) {
    $('backend-choice').value = 'cpu';
    history = kept;
    charts.show(history);
    clearError();
    const goesOn = training
      ? `Training continues on the CPU from step ${step.toLocaleString('en')}, its last copy in memory.`
      : 'The model runs on the CPU now.';
    showNotice(`The GPU device was lost (${message.replace(/\.$/, '')}). ${goesOn}`);
    if (state() === 'training') $('train-status').textContent = 'Training on the CPU…';
  },
  finished({ stopped }) {
    $('train-status').textContent = `${stopped ? 'Stopped' : 'Done'}: ${$('test-accuracy').textContent} of the test images right. Draw a digit below.`;
    setState('trained');
    requestPrediction();
  },
  examples({ examples, fineTuned }) {
    teach = { examples, fineTuned, busy: false };
    showExamples();
  },
  'example-added'({ label, count }) {
    $('teach-status').textContent = `Added as a ${label}: ${count} example${count === 1 ? '' : 's'}. Fine-tune to teach them.`;
  },
  'fine-tuning'({ step, steps }) {
    $('teach-status').textContent = `Fine-tuning… step ${step} of ${steps}`;
  },
  'fine-tuned'({ examples, seconds }) {
    $('teach-status').textContent = `Fine-tuned on ${examples} example${examples === 1 ? '' : 's'} in ${seconds.toFixed(1)} s: the draw pad uses the result.`;
    requestPrediction();
  },
  'fine-tune-undone'() {
    $('teach-status').textContent = 'Back to the model before fine-tuning.';
    requestPrediction();
  },
  prediction(message) {
    showPrediction(message);
    predicting = false;
    if (drawingChanged) requestPrediction();
  },
  inside(message) {
    inside.show(message);
    look.busy = false;
    if (look.again) requestLook();
  },
  downloaded({ bytes }) {
    $('checkpoint-status').textContent = `Checkpoint downloaded (${(bytes / 1024).toFixed(0)} KB).`;
  },
  loaded({ info, name }) {
    history = { steps: [], loss: [], accuracy: [], epochs: [] };
    charts.show(history);
    showOptions(info.config);
    $('checkpoint-status').textContent = `Loaded ${name}: ${describeRun(info)}`;
    $('saved-run').hidden = true;
    setState('trained');
    requestPrediction();
  },
  error({ message, cmd }) {
    if (cmd === 'predict') predicting = false;
    if (cmd === 'look') look.busy = false;
    if (['add-example', 'remove-example', 'fine-tune', 'undo-fine-tune'].includes(cmd)) {
      teach.busy = false;
      updateTeach();
      $('teach-status').textContent = cmd === 'fine-tune' ? 'Fine-tuning stopped; the model in use is unchanged.' : '';
    }
    if (cmd === 'train' || cmd === 'resume') {
      $('train-status').textContent = 'Training stopped because of an error.';
      setState('ready');
    }
    if (cmd === 'load') $('checkpoint-status').textContent = 'The file was not loaded; the model in use is unchanged.';
    if (cmd === 'pretrained') $('train-status').textContent = 'The pretrained model was not loaded; the model in use is unchanged.';
    if (cmd === 'start') {
      $('data-status').textContent = 'The page could not start.';
      $('retry-start').hidden = false;
    }
    showError(message);
  },
};

function main() {
  window.addEventListener('error', (e) => showError(e.error?.message ?? e.message));
  window.addEventListener('unhandledrejection', (e) => showError(e.reason?.message ?? e.reason));

  pad = createDrawPad($('pad'), requestPrediction);
  inside = createInside({
    root: $('inside'),
    model: $('inside-model'),
    layers: $('inside-layers'),
    filters: $('inside-filters'),
    detail: $('inside-detail'),
  });
  $('inside').addEventListener('toggle', requestLook);
  $('clear').addEventListener('click', () => {
    pad.clear();
    clearPrediction();
    requestLook();
  });
  $('undo').addEventListener('click', () => {
    if (pad.undo()) requestPrediction();
  });
  for (let digit = 0; digit < 10; digit++) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = String(digit);
    button.setAttribute('aria-label', `Add the drawing as a ${digit}`);
    button.addEventListener('click', () => addExample(digit));
    $('label-digits').append(button);
  }
  $('fine-tune').addEventListener('click', () => {
    clearError();
    teach.busy = true;
    updateTeach();
    send('fine-tune');
  });
  $('undo-fine-tune').addEventListener('click', () => {
    teach.busy = true;
    updateTeach();
    send('undo-fine-tune');
  });

  $('optimizer').addEventListener('change', () => {
    // A learning rate left at one optimizer's default follows to the other's.
    const rate = Number($('learning-rate').value);
    if (defaults && Object.values(defaults).some((d) => d.learningRate === rate)) {
      $('learning-rate').value = defaults[$('optimizer').value].learningRate;
    }
  });
  $('train-form').addEventListener('submit', (e) => {
    e.preventDefault();
    clearError();
    const options = readOptions();
    $('notice').hidden = true;
    batchSize = options.batchSize;
    $('test-accuracy').textContent = '–';
    $('stat-eta').textContent = '–';
    setState('training');
    send('train', { backend: $('backend-choice').value, options });
  });
  $('pause').addEventListener('click', () => send(state() === 'paused' ? 'unpause' : 'pause'));
  $('stop').addEventListener('click', () => send('stop'));

  $('resume-run').addEventListener('click', () => {
    clearError();
    $('notice').hidden = true;
    batchSize = Number($('batch-size').value);
    setState('training');
    send('resume', { backend: $('backend-choice').value });
  });
  $('discard-run').addEventListener('click', () => {
    send('discard');
    $('saved-run').hidden = true;
    $('checkpoint-status').textContent = 'The saved run was deleted from this browser.';
  });
  $('download').addEventListener('click', () => send('download'));
  $('load-file').addEventListener('change', async () => {
    const file = $('load-file').files[0];
    if (!file) return;
    clearError();
    const bytes = new Uint8Array(await file.arrayBuffer());
    $('load-file').value = '';
    send('load', { source: bytes, name: file.name }, [bytes.buffer]);
  });
  $('pretrained').addEventListener('click', () => {
    clearError();
    send('pretrained');
  });

  $('retry-start').addEventListener('click', () => {
    $('retry-start').hidden = true;
    clearError();
    setState('starting');
    send('start', { backend: $('backend-choice').value });
  });

  const requested = new URLSearchParams(location.search).get('backend');
  if (requested) $('backend-choice').value = requested;
  trainer = createRun((status, data) => handlers[status]?.({ status, ...data }));
  setState('starting');
  send('start', { backend: $('backend-choice').value });
}

main();
