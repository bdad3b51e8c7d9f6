// The page's training run, on the npm package's public API only: the model lives in the
// package's own Web Worker (`worker: true`), so the page never freezes. It has the package load
// MNIST, trains, evaluates, saves the run in IndexedDB after every epoch and every 15 seconds,
// and answers predictions between steps. When the GPU device is lost, the package moves the model
// to the CPU, a run going on from its last copy in memory, and the page is told.
// The user's examples and the fine-tuned model are saved with the run.
//   page -> run: send(cmd, data), cmd: 'start'|'train'|'resume'|'pause'|'unpause'|'stop'|
//                'predict'|'download'|'load'|'pretrained'|'discard'|'add-example'|
//                'remove-example'|'fine-tune'|'undo-fine-tune'|'look'
//   run -> page: report(status, data), status: 'defaults'|'download'|'ready'|'backend'|'saved'|
//                'training'|'progress'|'paused'|'resumed'|'evaluating'|'evaluated'|
//                'finished'|'autosaved'|'prediction'|'loaded'|'device-lost'|'examples'|
//                'example-added'|'fine-tuning'|'fine-tuned'|'fine-tune-undone'|'inside'|'error'

import init, { LeNet, PRETRAINED_MODEL } from '../pkg/index.js';

/** The gzipped IDX files, served from the page's origin under data/ (resolved against this
 * module). */
const MNIST_URLS = Object.fromEntries(
  Object.entries({
    trainImages: 'train-images-idx3-ubyte.gz',
    trainLabels: 'train-labels-idx1-ubyte.gz',
    testImages: 't10k-images-idx3-ubyte.gz',
    testLabels: 't10k-labels-idx1-ubyte.gz',
  }).map(([key, file]) => [key, new URL(`../data/${file}`, import.meta.url).href]),
);
/** Where the run is saved in this browser (with its charts and results as metadata). */
const RUN_NAME = 'latest-run';
const SAVED_RUN = `indexeddb://${RUN_NAME}`;

/** Misclassified test digits sent to the page after an evaluation. */
const MISTAKES_SHOWN = 60;
/** Training time between saves within an epoch (each epoch's end is saved too): a reload costs
 * at most this much training. */
const AUTOSAVE_EVERY_MS = 15_000;

/** The file name a downloaded checkpoint gets. */
const DOWNLOAD = 'downloads://lenet5-mnist';

/**
 * A run that reports to `report(status, data)`.
 * @param {(status: string, data: object) => void} report
 */
export function createRun(report) {
  // A copy, as a message would be: the page keeps its own charts and results.
  const post = (status, data = {}) => report(status, structuredClone(data));
  let lenet = null;
  /** The backend asked for ('auto' | 'webgpu' | 'cpu'). */
  let lenetBackend = null;
  /** True once a saved or loaded run is there to resume. */
  let resumable = false;
  /** The charts of the current run: read-backs of the loss and accuracy, and evaluations. */
  let history = emptyHistory();
  /** The last evaluation as sent to the page (saved with the run, shown again after a reload). */
  let results = null;
  /** While training: the run's AbortController. */
  let controller = null;
  let paused = null; // while paused: {promise, resume}
  /** True while the model in use is fine-tuned on the examples. */
  let fineTuned = false;
  /** While a run trains: the look the page asked for last, done at the run's next read-back of
   * its loss. The device has no work queued then; a look between two other steps would make
   * WebGPU finish every step queued first, a stall in the middle of the run's queue. */
  let lookWanted = null;

  function emptyHistory() {
    return { steps: [], loss: [], accuracy: [], epochs: [] };
  }

  /** Makes the model run on `choice` ('auto' | 'webgpu' | 'cpu'); the package keeps the data,
   * the model and the run to resume. WebGPU asked for but not to be had (no WebGPU, no adapter,
   * no device) gives the CPU, saying why. */
  async function useBackend(choice) {
    if (choice === lenetBackend) return;
    let fallbackReason;
    try {
      await switchTo(choice);
    } catch (e) {
      if (choice !== 'webgpu') throw e;
      fallbackReason = e.message;
      await switchTo('cpu');
    }
    lenetBackend = choice;
    post('backend', { backend: lenet.backend, fallbackReason: fallbackReason ?? lenet.fallbackReason, calibration: lenet.calibration });
  }

  /** `setBackend`, or `create` for the first model ("auto" reuses what the package measured
   * before). */
  async function switchTo(request) {
    if (lenet) await lenet.setBackend(request);
    else lenet = await LeNet.create(request, { worker: true, onDeviceLost });
  }

  /** The package has moved the model to the CPU: a run goes on from `step`, its last copy in
   * memory, and the charts drop what came after it. */
  function onDeviceLost({ message, step }) {
    lenetBackend = 'cpu';
    if (step !== undefined) {
      const kept = history.steps.findLastIndex((s) => s <= step) + 1;
      for (const series of [history.steps, history.loss, history.accuracy]) series.length = kept;
      history.epochs = history.epochs.filter((e) => e.step <= step);
    }
    post('backend', { backend: lenet.backend, fallbackReason: lenet.fallbackReason });
    post('device-lost', { message, step, training: controller !== null, history });
  }

  /** Starts up: the backend, MNIST and the package's default settings, then the saved run. */
  async function start({ backend }) {
    // The model first, in the package's worker (which fetches the .wasm). This thread needs the
    // .wasm too, for LeNet's static functions: it comes from the HTTP cache then, and compiles
    // while MNIST downloads.
    await useBackend(backend);
    const onProgress = ({ loaded, total }) => post('download', { loaded, total });
    const [{ trainCount, testCount, fromCache }] = await Promise.all([
      lenet.loadMnist(MNIST_URLS, { onProgress, cache: true }),
      init().then(() => post('defaults', { adam: LeNet.defaultSettings('adam'), sgd: LeNet.defaultSettings('sgd') })),
    ]);
    post('ready', { trainCount, testCount, cached: fromCache });
    await restoreSavedRun();
  }

  /** Offers the run saved in IndexedDB, its model loaded for the draw pad. */
  async function restoreSavedRun() {
    const saved = await LeNet.listSaved().catch(() => []);
    if (!saved.some(({ name }) => name === RUN_NAME)) return;
    try {
      const { metadata, ...info } = await lenet.loadCheckpoint(SAVED_RUN);
      resumable = true;
      fineTuned = info.fineTuned;
      ({ history, results } = metadata);
      post('saved', { info, history, results });
      await showExamples();
    } catch (e) {
      await LeNet.deleteSaved(SAVED_RUN);
      throw new Error(`The saved training run could not be restored and was deleted: ${e.message}`);
    }
  }

  async function train({ backend, options }) {
    await useBackend(backend);
    history = emptyHistory();
    await runTraining((callbacks) => lenet.train({ ...options, ...callbacks }));
  }

  async function resume({ backend }) {
    if (!resumable) throw new Error('there is no saved run to resume');
    await useBackend(backend);
    await runTraining((callbacks) => lenet.resume(callbacks));
  }

  /** Runs `start` (train or resume) with callbacks that report progress, pause on request,
   * evaluate and save after every epoch; a stop aborts it. */
  async function runTraining(start) {
    controller = new AbortController();
    paused = null;
    // A run's new weights replace the fine-tuned ones; the examples stay.
    fineTuned = false;
    post('training', { backend: lenet.backend, history });
    // Images per second are measured from the end of one step to the end of a later one, leaving
    // out the first step (set-up), pauses and evaluations.
    let mark = null;
    let last = null;
    let lastEvaluated = null;
    let lastSaved = performance.now();
    // Returns a promise (training waits for it) only while looking, saving or paused.
    const onStep = (p) => {
      last = p;
      // A look the page asked for, at a read-back; training waits for its values (a few
      // milliseconds).
      if (p.loss !== undefined && lookWanted) return lookNow(takeLook()).then(() => afterStep(p));
      return afterStep(p);
    };
    const afterStep = (p) => {
      const now = performance.now();
      // (After a lost GPU device the run goes back a few steps.)
      if (mark && p.loss !== undefined && p.imagesSeen > mark.images) {
        p.imagesPerSecond = ((p.imagesSeen - mark.images) * 1000) / (now - mark.time);
      }
      if (!mark || p.loss !== undefined) mark = { time: now, images: p.imagesSeen };
      if (p.loss !== undefined) {
        history.steps.push(p.step);
        history.loss.push(p.loss);
        history.accuracy.push(p.accuracy);
      }
      post('progress', { progress: p });
      if (p.epochDone) post('evaluating');
      // Within an epoch, on a read-back (the charts then hold every point up to the save).
      else if (p.loss !== undefined && now - lastSaved > AUTOSAVE_EVERY_MS) {
        return autosave(p).then(() => {
          lastSaved = performance.now();
          mark = null;
          return pause();
        });
      }
      return pause();
    };
    const pause = () => {
      if (!paused) return undefined;
      mark = null;
      post('paused'); // only now: the step that was running when Pause came has ended
      if (lookWanted) lookNow(takeLook());
      return paused.promise;
    };
    const onEpoch = async ({ epoch, step, evaluation }) => {
      await showResults(evaluation, { epoch, step });
      lastEvaluated = step;
      await autosave(last);
      lastSaved = performance.now();
      mark = null;
    };
    try {
      await start({ signal: controller.signal, onStep, onEpoch });
    } catch (e) {
      if (!controller.signal.aborted) throw e;
    } finally {
      controller = null;
      if (lookWanted) lookNow(takeLook());
    }
    if (last && last.step !== lastEvaluated) {
      post('evaluating');
      await showResults(await lenet.evaluate(), last);
    }
    post('finished', { stopped: !last || last.step !== last.totalSteps });
    await showExamples();
  }

  /** Sends an evaluation to the page, with the first misclassified digits; `at` (the epoch and
   * step it was made after) adds it to the charts. */
  async function showResults(evaluation, at) {
    const shown = evaluation.misclassified.slice(0, MISTAKES_SHOWN);
    const mistakes = [];
    for (const mistake of shown) mistakes.push({ ...mistake, pixels: await lenet.testImage(mistake.index) });
    delete evaluation.misclassified;
    const point = at && { epoch: at.epoch, step: at.step, accuracy: evaluation.accuracy };
    if (point) history.epochs.push(point);
    results = { evaluation, mistakes, mistakeCount: evaluation.total - evaluation.correct };
    post('evaluated', { ...results, epoch: point });
  }

  /** Saves the run to IndexedDB, with its charts and results, as it stands after the step
   * `progress` reported. */
  async function autosave(progress) {
    const { epoch, step, epochDone } = progress;
    try {
      const { bytes } = await persist();
      post('autosaved', { epoch, step, epochDone, bytes });
    } catch (e) {
      post('error', { message: `The run could not be saved at step ${step}: ${e.message}`, cmd: 'autosave' });
    }
  }

  /** Sends the examples to the page, with whether the model in use is fine-tuned. */
  async function showExamples() {
    post('examples', { examples: await lenet.examples(), fineTuned });
  }

  /** Saves the run as it stands in IndexedDB, with its charts and results (and the examples
   * and fine-tuned weights, which are part of it); resolves to what was saved. */
  async function persist() {
    const saved = await lenet.save(SAVED_RUN, { metadata: { history, results } });
    resumable = true;
    return saved;
  }

  async function addExample({ image, label }) {
    const count = await lenet.addExamples([{ image, label }]);
    post('example-added', { label, count });
    await persist();
    await showExamples();
  }

  async function fineTune() {
    if (controller) throw new Error('stop training before fine-tuning');
    const started = performance.now();
    const report = await lenet.fineTune({ onStep: (progress) => post('fine-tuning', progress) });
    fineTuned = true;
    post('fine-tuned', { ...report, seconds: (performance.now() - started) / 1000 });
    await persist();
    await showExamples();
  }

  async function predict({ image }) {
    if (!lenet) throw new Error('the model is still starting');
    post('prediction', await lenet.predictImage(image));
  }

  /** Sends what the model in use makes of `image` (each layer's output; none for no image),
   * its filters, and which model it is: now, or while a run trains, at its next read-back. */
  async function look({ image }) {
    if (!lenet) throw new Error('the model is still starting');
    if (controller && !paused) lookWanted = { image };
    else await lookNow({ image });
  }

  /** The look wanted, no longer wanted. */
  function takeLook() {
    const wanted = lookWanted;
    lookWanted = null;
    return wanted;
  }

  /** Does a look; resolves once its values are read, before the page draws them (a run waiting
   * for it goes on meanwhile). A failure is reported as the look's. */
  async function lookNow({ image }) {
    try {
      const [model, layers, filters] = await Promise.all([
        lenet.modelInUse(),
        image ? lenet.activations(image) : null,
        lenet.filters(),
      ]);
      setTimeout(() => post('inside', { model, layers, filters }));
    } catch (e) {
      post('error', { message: e?.message ?? String(e), cmd: 'look' });
    }
  }

  async function download() {
    const { bytes } = await lenet.save(DOWNLOAD);
    post('downloaded', { bytes });
  }

  /** Loads a checkpoint from `source` (bytes or a URL) for the draw pad, named `name` to the
   * user. */
  async function load({ source, name }) {
    if (controller) throw new Error('stop training before loading a checkpoint');
    const info = await lenet.loadCheckpoint(source);
    resumable = true;
    fineTuned = info.fineTuned;
    history = emptyHistory();
    post('loaded', { info, name });
    await showExamples();
    post('evaluating');
    await showResults(await lenet.evaluate(), null);
  }

  const commands = {
    start,
    train,
    resume,
    predict,
    look,
    download,
    load,
    pretrained: () => load({ source: PRETRAINED_MODEL, name: 'the pretrained model' }),
    'add-example': addExample,
    async 'remove-example'({ index }) {
      await lenet.removeExample(index);
      await persist();
      await showExamples();
    },
    'fine-tune': fineTune,
    async 'undo-fine-tune'() {
      await lenet.undoFineTune();
      fineTuned = false;
      post('fine-tune-undone');
      await persist();
      await showExamples();
    },
    async discard() {
      resumable = false;
      await LeNet.deleteSaved(SAVED_RUN);
    },
    pause() {
      if (paused || !controller) return;
      let resumeTraining;
      const promise = new Promise((r) => (resumeTraining = r));
      paused = { promise, resume: resumeTraining };
    },
    unpause() {
      if (!paused) return;
      paused.resume();
      paused = null;
      post('resumed');
    },
    stop() {
      // The package cuts a paused run short; the pause's promise is let go of unsettled.
      paused = null;
      controller?.abort();
    },
  };

  return {
    /** Runs `cmd`; a failure is reported as 'error'. */
    async send(cmd, data = {}) {
      try {
        await commands[cmd](data);
      } catch (e) {
        post('error', { message: e?.message ?? String(e), cmd });
      }
    },
  };
}
