// The training worker: owns the wasm model, downloads MNIST, trains step by step, evaluates and
// saves a checkpoint after every epoch, and answers predictions between steps, so the page never
// freezes. It talks to the page in messages:
//   page -> worker: {cmd: 'start'|'train'|'resume'|'pause'|'stop'|'predict'|'download'|'load'|
//                    'discard', ...}
//   worker -> page: {status: 'download'|'ready'|'backend'|'saved'|'training'|'progress'|'paused'|
//                    'resumed'|'evaluating'|'evaluated'|'finished'|'autosaved'|'prediction'|
//                    'checkpoint'|'loaded'|'error', ...}

import init, { LeNet } from '../pkg/lenet_web.js';
import { downloadMnist, forgetMnist } from './mnist.js';
import { forgetRun, loadRun, saveRun } from './store.js';

/** Misclassified test digits sent to the page after an evaluation. */
const MISTAKES_SHOWN = 60;
/** Bytes before the pixels in an IDX images file. */
const IDX_IMAGES_HEADER = 16;
const IMAGE_PIXELS = 784;

let lenet = null;
let lenetBackend = null;
let mnist = null;
/** Checkpoint bytes that `resume` goes on from (restored from IndexedDB or loaded from a file). */
let checkpoint = null;
/** The charts of the current run: read-backs of the loss and accuracy, and evaluations. */
let history = emptyHistory();
/** The last evaluation as sent to the page (saved with the run, shown again after a reload). */
let results = null;
let paused = null; // while paused: {promise, resume}
let stopRequested = false;
let training = false;

function emptyHistory() {
  return { steps: [], loss: [], accuracy: [], epochs: [] };
}

/** @param {string} status @param {object} [data] */
function post(status, data = {}, transfer = []) {
  postMessage({ status, ...data }, transfer);
}

/** Calls into the wasm model one at a time: a prediction waits for the step in progress. */
let queue = Promise.resolve();
function withModel(task) {
  const run = queue.then(() => task(lenet));
  queue = run.catch(() => {});
  return run;
}

/** Lets queued messages (pause, stop, predict) run between steps. A MessageChannel task, unlike
 * a nested setTimeout, is not clamped to 4 ms. */
const tick = new MessageChannel();
function yieldToMessages() {
  return new Promise((resolve) => {
    tick.port1.onmessage = resolve;
    tick.port2.postMessage(null);
  });
}

/** Loads the downloaded MNIST into `model`; returns the sizes of the two splits. */
function loadMnist(model) {
  return {
    trainCount: model.loadTrainingSet(mnist.trainImages, mnist.trainLabels),
    testCount: model.loadTestSet(mnist.testImages, mnist.testLabels),
  };
}

/** Creates the model on `choice` ('auto' | 'webgpu' | 'cpu'), with the data if downloaded. */
async function createModel(choice) {
  const created = await LeNet.create(choice);
  if (mnist) loadMnist(created);
  lenet?.free();
  lenet = created;
  lenetBackend = choice;
  post('backend', { backend: created.backend, fallbackReason: created.fallbackReason });
}

/** Makes sure the model runs on `backend`, carrying the checkpoint over to a new one. */
async function useBackend(backend) {
  if (backend === lenetBackend) return;
  await withModel(() => createModel(backend));
  if (checkpoint) await withModel((m) => m.loadCheckpoint(checkpoint));
}

async function start({ backend }) {
  await init();
  await withModel(() => createModel(backend));
  const { files, cached } = await downloadMnist((loaded, total) => post('download', { loaded, total }));
  mnist = files;
  try {
    post('ready', { ...(await withModel(loadMnist)), cached });
  } catch (e) {
    await forgetMnist(); // a damaged cached file must not break every later visit
    throw new Error(`${e.message} Reload the page to download MNIST again.`);
  }
  await restoreSavedRun();
}

/** Offers the run saved in IndexedDB, its model loaded for the draw pad. */
async function restoreSavedRun() {
  const saved = await loadRun().catch(() => undefined);
  if (!saved) return;
  try {
    const info = await withModel((m) => m.loadCheckpoint(saved.checkpoint));
    checkpoint = saved.checkpoint;
    history = saved.history;
    results = saved.results;
    post('saved', { info, history, results, savedAt: saved.savedAt });
  } catch (e) {
    await forgetRun();
    throw new Error(`The saved training run could not be restored and was deleted: ${e.message}`);
  }
}

async function train({ backend, options }) {
  await useBackend(backend);
  await withModel((m) => m.startTraining(options));
  history = emptyHistory();
  await runTraining();
}

async function resume({ backend, epochs }) {
  if (!checkpoint) throw new Error('there is no saved run to resume');
  await useBackend(backend);
  await withModel((m) => m.resumeTraining(epochs));
  await runTraining();
}

/** Steps the started run to its end (or a stop), evaluating and saving after every epoch. */
async function runTraining() {
  stopRequested = false;
  paused = null;
  training = true;
  post('training', { backend: lenet.backend, history });
  // Images per second are measured from the end of one step to the end of a later one, leaving
  // out the first step (set-up), pauses and evaluations.
  let mark = null;
  let lastEvaluated = null;
  let last = null;
  try {
    for (;;) {
      if (paused) {
        await paused.promise;
        mark = null;
      }
      if (stopRequested) {
        await withModel((m) => m.stopTraining());
        break;
      }
      const p = await withModel((m) => m.step());
      if (!p) break;
      last = p;
      const now = performance.now();
      if (mark && p.loss !== undefined) {
        p.imagesPerSecond = ((p.imagesSeen - mark.images) * 1000) / (now - mark.time);
      }
      if (!mark || p.loss !== undefined) mark = { time: now, images: p.imagesSeen };
      if (p.loss !== undefined) {
        history.steps.push(p.step);
        history.loss.push(p.loss);
        history.accuracy.push(p.accuracy);
      }
      post('progress', { progress: p });
      if (p.epochDone) {
        await evaluate(p);
        lastEvaluated = p.step;
        await autosave(p);
        mark = null;
      }
      await yieldToMessages();
    }
    if (last && last.step !== lastEvaluated) await evaluate(last);
  } finally {
    training = false;
  }
  post('finished', { stopped: stopRequested });
}

/** Evaluates on the test set and sends the results with the first misclassified digits. */
async function evaluate(progress) {
  post('evaluating');
  const evaluation = await withModel((m) => m.evaluate());
  const mistakes = evaluation.misclassified.slice(0, MISTAKES_SHOWN).map((mistake) => {
    const start = IDX_IMAGES_HEADER + mistake.index * IMAGE_PIXELS;
    return { ...mistake, pixels: mnist.testImages.slice(start, start + IMAGE_PIXELS) };
  });
  delete evaluation.misclassified;
  const epoch = progress && { epoch: progress.epoch, step: progress.step, accuracy: evaluation.accuracy };
  if (epoch) history.epochs.push(epoch);
  results = { evaluation, mistakes, mistakeCount: evaluation.total - evaluation.correct };
  post('evaluated', { ...results, epoch });
}

/** Saves the run to IndexedDB, with its charts. */
async function autosave(progress) {
  try {
    const bytes = await withModel((m) => m.saveCheckpoint());
    checkpoint = bytes;
    await saveRun({ checkpoint: bytes, history, results, savedAt: Date.now() });
    post('autosaved', { epoch: progress.epoch, bytes: bytes.length });
  } catch (e) {
    post('error', { message: `The checkpoint of epoch ${progress.epoch} could not be saved: ${e.message}`, cmd: 'autosave' });
  }
}

async function predict({ rgba, width, height }) {
  if (!lenet) throw new Error('the model is still starting');
  const prediction = await withModel((m) => m.predictDrawing(rgba, width, height));
  const image = prediction.image;
  const probabilities = prediction.probabilities;
  post('prediction', { image, probabilities, digit: prediction.digit }, [image.buffer, probabilities.buffer]);
  prediction.free();
}

async function download() {
  const bytes = await withModel((m) => m.saveCheckpoint());
  post('checkpoint', { bytes }, [bytes.buffer]);
}

async function load({ bytes, name }) {
  if (training) throw new Error('stop training before loading a checkpoint');
  const info = await withModel((m) => m.loadCheckpoint(bytes));
  checkpoint = bytes;
  history = emptyHistory();
  post('loaded', { info, name });
  await evaluate(null);
}

const commands = {
  start,
  train,
  resume,
  predict,
  download,
  load,
  async discard() {
    checkpoint = null;
    await forgetRun();
  },
  pause() {
    if (paused || !training) return;
    let resumeTraining;
    const promise = new Promise((r) => (resumeTraining = r));
    paused = { promise, resume: resumeTraining };
    post('paused');
  },
  unpause() {
    paused?.resume();
    paused = null;
    post('resumed');
  },
  stop() {
    stopRequested = true;
    commands.unpause();
  },
};

onmessage = async ({ data }) => {
  try {
    await commands[data.cmd](data);
  } catch (e) {
    post('error', { message: e?.message ?? String(e), cmd: data.cmd });
  }
};
