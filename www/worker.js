// The training worker: owns the wasm model, downloads MNIST, trains step by step and answers
// predictions between steps, so the page never freezes. It talks to the page in messages:
//   page -> worker: {cmd: 'start'|'train'|'pause'|'resume'|'stop'|'predict', ...}
//   worker -> page: {status: 'download'|'ready'|'backend'|'progress'|'evaluated'|'stopped'|
//                    'prediction'|'error', ...}

import init, { LeNet } from '../pkg/lenet_web.js';
import { downloadMnist } from './mnist.js';

let lenet = null;
let lenetBackend = null;
let mnist = null;
let paused = null; // while paused: {promise, resume}
let stopRequested = false;

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

async function start({ backend }) {
  await init();
  await withModel(() => createModel(backend));
  mnist = await downloadMnist((loaded, total) => post('download', { loaded, total }));
  post('ready', await withModel(loadMnist));
}

async function train({ backend, options }) {
  stopRequested = false;
  paused = null;
  if (backend !== lenetBackend) await withModel(() => createModel(backend));
  await withModel((m) => m.startTraining(options));
  post('training', { backend: lenet.backend });
  let mark = { time: performance.now(), images: 0 };
  let imagesSeen = 0;
  for (;;) {
    if (paused) {
      await paused.promise;
      mark = { time: performance.now(), images: imagesSeen }; // a pause is not training time
    }
    if (stopRequested) {
      await withModel((m) => m.stopTraining());
      break;
    }
    const p = await withModel((m) => m.step());
    if (!p) break;
    imagesSeen = p.imagesSeen;
    if (p.loss !== undefined) {
      const now = performance.now();
      p.imagesPerSecond = ((p.imagesSeen - mark.images) * 1000) / (now - mark.time);
      mark = { time: now, images: p.imagesSeen };
    }
    post('progress', { progress: p });
    await yieldToMessages();
  }
  post('evaluating');
  const evaluation = await withModel((m) => m.evaluate());
  post('evaluated', { evaluation, stopped: stopRequested });
}

async function predict({ rgba, width, height }) {
  if (!lenet) throw new Error('the model is still starting');
  const prediction = await withModel((m) => m.predictDrawing(rgba, width, height));
  const image = prediction.image;
  const probabilities = prediction.probabilities;
  post('prediction', { image, probabilities, digit: prediction.digit }, [image.buffer, probabilities.buffer]);
  prediction.free();
}

const commands = {
  start,
  train,
  predict,
  pause() {
    if (paused) return;
    let resume;
    const promise = new Promise((r) => (resume = r));
    paused = { promise, resume };
    post('paused');
  },
  resume() {
    paused?.resume();
    paused = null;
    post('resumed');
  },
  stop() {
    stopRequested = true;
    commands.resume();
  },
};

onmessage = async ({ data }) => {
  try {
    await commands[data.cmd](data);
  } catch (e) {
    post('error', { message: e?.message ?? String(e), cmd: data.cmd });
  }
};
