/// <reference types="vite/client" />
// A web app using lenet-web as its README shows: create a trainer, load MNIST from URLs, train
// with callbacks, predict from a canvas and from pixels, save and load a checkpoint, abort a run.
// consumer.test.mjs runs `runConsumerTest()` in headless Chromium and checks what it reports;
// `tsc --noEmit` checks this file against the package's types.

import init, {
  type DeviceLost,
  type DownloadProgress,
  type EpochReport,
  type FineTuneReport,
  type LayerView,
  type SavedModel,
  version,
  type MnistCounts,
  type MnistUrls,
  type Progress,
  type ResumeOptions,
  type TrainResult,
  type TrainingSettings,
  LeNet,
  PRETRAINED_MODEL,
} from 'lenet-web';
import wasmUrl from 'lenet-web/lenet_web_bg.wasm?url';

export interface Report {
  backend: 'webgpu' | 'cpu';
  trainCount: number;
  testCount: number | undefined;
  steps: number;
  losses: number[];
  epochs: EpochReport[];
  result: TrainResult;
  digit: number;
  probabilitySum: number;
  fromPixels: number;
  reloadedDigit: number;
  samePrediction: boolean;
  checkpointBytes: number;
  resumedFrom: number;
  abortedWith: string;
  stepsBeforeAbort: number;
  badCheckpoint: string;
}

/** Draws a "1": one vertical stroke, dark on light, as a person would on a canvas. */
function drawOne(canvas: HTMLCanvasElement): void {
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = '#000';
  ctx.lineWidth = 12;
  ctx.lineCap = 'round';
  ctx.beginPath();
  ctx.moveTo(70, 20);
  ctx.lineTo(68, 120);
  ctx.stroke();
}

async function runConsumerTest(): Promise<Report> {
  await init();
  const lenet = await LeNet.create('cpu');
  const counts = await lenet.loadMnist({
    trainImages: '/train-images-idx3-ubyte.gz',
    trainLabels: '/train-labels-idx1-ubyte.gz',
    testImages: '/t10k-images-idx3-ubyte.gz',
    testLabels: '/t10k-labels-idx1-ubyte.gz',
  });

  const progress: Progress[] = [];
  const epochs: EpochReport[] = [];
  const result = await lenet.train({
    epochs: 1,
    batchSize: 50,
    limit: 3000,
    readEvery: 10,
    onStep: (p) => {
      progress.push(p);
    },
    onEpoch: async (report) => {
      epochs.push(report);
    },
  });

  const canvas = document.getElementById('digit') as HTMLCanvasElement;
  drawOne(canvas);
  const prediction = await lenet.predictImage(canvas);
  const probabilities = prediction.probabilities;
  const pixels = new Float32Array(784).fill(0);
  for (let y = 4; y < 24; y++) pixels[y * 28 + 14] = 1;
  const fromPixels = await lenet.predict(pixels);

  const bytes = await lenet.saveCheckpoint();
  const reloaded = await LeNet.create('cpu');
  await reloaded.loadTrainingSet(
    new Uint8Array(await (await fetch('/train-images-idx3-ubyte.gz')).arrayBuffer()),
    new Uint8Array(await (await fetch('/train-labels-idx1-ubyte.gz')).arrayBuffer()),
  );
  const info = await reloaded.loadCheckpoint(bytes);
  const again = await reloaded.predictImage(canvas);
  const samePrediction = again.probabilities.every((p, i) => Math.abs(p - probabilities[i]) < 1e-6);
  const resumed = await reloaded.resume({ epochs: 2, limit: 3000 });

  let badCheckpoint = '';
  try {
    await reloaded.loadCheckpoint(new Uint8Array([1, 2, 3]));
  } catch (e) {
    badCheckpoint = e instanceof Error ? e.message : String(e);
  }

  const controller = new AbortController();
  let stepsBeforeAbort = 0;
  let abortedWith = '';
  try {
    await lenet.train({
      limit: 3000,
      signal: controller.signal,
      onStep: () => {
        stepsBeforeAbort += 1;
        if (stepsBeforeAbort === 3) controller.abort();
      },
    });
  } catch (e) {
    abortedWith = e instanceof Error ? e.name : String(e);
  }

  return {
    backend: lenet.backend,
    trainCount: counts.trainCount,
    testCount: counts.testCount,
    steps: progress.length,
    losses: progress.flatMap((p) => (p.loss === undefined ? [] : [p.loss])),
    epochs: epochs.map((e) => ({ ...e, evaluation: e.evaluation && { ...e.evaluation, misclassified: [] } })),
    result,
    digit: prediction.digit,
    probabilitySum: probabilities.reduce((a, b) => a + b, 0),
    fromPixels: fromPixels.indexOf(Math.max(...fromPixels)),
    reloadedDigit: again.digit,
    samePrediction,
    checkpointBytes: bytes.length,
    resumedFrom: info.step === resumed.step - info.stepsPerEpoch ? info.step : -1,
    abortedWith,
    stepsBeforeAbort,
    badCheckpoint,
  };
}

/** What the package's rules give for a caller's mistakes and aborts. */
export interface Rules {
  adam: TrainingSettings;
  sgdLearningRate: number;
  zeroLimit: string;
  misspeltResume: string;
  pausedAbort: string;
  stringReason: { isError: boolean; name: string; message: string };
  testImageLength: number;
  missingTestImage: string;
  afterBackendChange: { backend: string; total: number; samePrediction: boolean };
}

/** The message `work` rejects with, or what it resolved to when it did not. */
async function refusal(work: Promise<unknown>): Promise<string> {
  try {
    return `resolved: ${JSON.stringify(await work)}`;
  } catch (e) {
    return e instanceof Error ? e.message : `not an Error: ${String(e)}`;
  }
}

async function checkRules(): Promise<Rules> {
  await init();
  const lenet = await LeNet.create('cpu');
  await lenet.loadMnist({
    trainImages: '/train-images-idx3-ubyte.gz',
    trainLabels: '/train-labels-idx1-ubyte.gz',
    testImages: '/t10k-images-idx3-ubyte.gz',
    testLabels: '/t10k-labels-idx1-ubyte.gz',
  });
  const zeroLimit = await refusal(lenet.train({ limit: 0 }));
  await lenet.train({ limit: 200, batchSize: 50, evaluateEachEpoch: false });
  await lenet.loadCheckpoint(await lenet.saveCheckpoint());
  const misspelt = { epoch: 2 } as unknown as ResumeOptions;
  const misspeltResume = await refusal(lenet.resume(misspelt));

  // A run paused in its callback (a promise that never settles) is aborted: it must reject at
  // once rather than wait for the pause to end.
  const paused = new AbortController();
  const pausedRun = lenet.train({
    limit: 500,
    signal: paused.signal,
    onStep: (p) => (p.step === 2 ? new Promise<void>(() => setTimeout(() => paused.abort(), 100)) : undefined),
  });
  const hung = new Promise<string>((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000));
  const pausedAbort = await Promise.race([pausedRun.then(() => 'resolved', (e: Error) => e.name), hung]);

  const controller = new AbortController();
  let stringReason = { isError: false, name: '', message: '' };
  try {
    await lenet.train({ limit: 500, signal: controller.signal, onStep: () => controller.abort('stop now') });
  } catch (e) {
    stringReason = { isError: e instanceof Error, name: (e as Error).name, message: (e as Error).message };
  }

  const testImage = await lenet.testImage(0);
  const missingTestImage = await refusal(lenet.testImage(10_000));
  const pixels = new Float32Array(784).fill(0.5);
  const before = await lenet.predict(pixels);
  await lenet.setBackend('cpu');
  const after = await lenet.predict(pixels);
  const { total } = await lenet.evaluate();
  const backend = lenet.backend;
  lenet.free();
  return {
    adam: LeNet.defaultSettings(),
    sgdLearningRate: LeNet.defaultSettings('sgd').learningRate,
    zeroLimit,
    misspeltResume,
    pausedAbort,
    stringReason,
    testImageLength: testImage.length,
    missingTestImage,
    afterBackendChange: {
      backend,
      total,
      samePrediction: after.every((p, i) => p === before[i]),
    },
  };
}

/** Loads MNIST from `urls` into a fresh model: the counts, or the message it was refused with. */
async function tryLoadMnist(urls: MnistUrls): Promise<MnistCounts | string> {
  await init();
  const lenet = await LeNet.create('cpu');
  try {
    return await lenet.loadMnist(urls);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    lenet.free();
  }
}

/** Loads a training set from bytes into a fresh model: its size, or the message it was refused
 * with. */
async function tryLoadTrainingSet(images: Uint8Array, labels: Uint8Array): Promise<number | string> {
  await init();
  const lenet = await LeNet.create('cpu');
  try {
    return await lenet.loadTrainingSet(images, labels);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    lenet.free();
  }
}

/** What the package gives beyond training: named errors, own data, batch and image predictions,
 * saving to IndexedDB and loading from a URL, downloads with progress, cache and abort. */
export interface Features {
  version: string;
  /** The package's pretrained model, loaded from the URL the bundle gave it. */
  pretrained: { url: string; digit: number; epochs: number };
  progressCalls: number;
  progressDone: boolean;
  fromCacheFirst: boolean;
  fromCacheAgain: boolean;
  abortedLoad: string;
  ownCount: number;
  ownTrained: number;
  errorNames: Record<string, string>;
  batchMatches: boolean;
  batchLength: number;
  bitmapDigit: number;
  imageDigit: number;
  lightOnDarkDigit: number;
  darkReadAsLight: string;
  saved: SavedModel;
  listed: string[];
  weightsOnlySmaller: boolean;
  urlLoaded: { progressCalls: number; samePrediction: boolean };
  blobLoaded: boolean;
  fileLoaded: number;
  downloaded: SavedModel;
  probabilities: number[];
  /** Each layer for the drawing, from the canvas and from its grey levels, the filters, and
   * which model they are from (a fresh one first). */
  look: { layers: string[]; lastIsPredict: boolean; sameFromLevels: boolean; filters: string[]; model: string; fresh: string };
  /** Examples added (a drawing and grey levels), fine-tuned on, listed and undone. */
  teach: { held: number; steps: number[]; report: FineTuneReport; labels: number[]; saved: { examples: number; fineTuned: boolean }; undone: boolean; again: boolean; blank: string; badLabel: string };
}

const MNIST = {
  trainImages: '/train-images-idx3-ubyte.gz',
  trainLabels: '/train-labels-idx1-ubyte.gz',
  testImages: '/t10k-images-idx3-ubyte.gz',
  testLabels: '/t10k-labels-idx1-ubyte.gz',
};

/** The name of the error `work` rejects with. */
async function errorName(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return 'resolved';
  } catch (e) {
    return e instanceof Error ? `${e.name}: ${e.message}` : `not an Error: ${String(e)}`;
  }
}

/** Runs `work` as in a browser without WebGPU. */
async function withoutWebGpu<T>(work: () => Promise<T>): Promise<T> {
  Object.defineProperty(navigator, 'gpu', { value: undefined, configurable: true });
  try {
    return await work();
  } finally {
    delete (navigator as { gpu?: unknown }).gpu;
  }
}

async function checkFeatures(): Promise<Features> {
  await init();
  const lenet = await LeNet.create({ backend: 'cpu' });
  let progressCalls = 0;
  let last: DownloadProgress = { loaded: 0, total: 0 };
  const first = await lenet.loadMnist(MNIST, {
    cache: 'consumer-mnist',
    onProgress: (p) => {
      progressCalls += 1;
      last = p;
    },
  });
  const again = await lenet.loadMnist(MNIST, { cache: 'consumer-mnist' });
  const controller = new AbortController();
  const aborting = lenet.loadMnist({ trainImages: '/fault/slow/train-images-idx3-ubyte.gz', trainLabels: MNIST.trainLabels }, { signal: controller.signal });
  setTimeout(() => controller.abort(), 200);
  const abortedLoad = await errorName(aborting);

  // An app's own data: 300 test digits as fractions 0-1, their labels as plain numbers.
  const images = new Float32Array(300 * 784);
  const labels: number[] = [];
  for (let i = 0; i < 300; i++) {
    const pixels = await lenet.testImage(i);
    images.set(Array.from(pixels, (g) => g / 255), i * 784);
    labels.push(i % 10);
  }
  const ownCount = await lenet.loadTestSet({ images, labels });
  const ownTrained = (await lenet.train({ limit: 200, batchSize: 50, evaluateEachEpoch: false })).step;
  await lenet.loadMnist(MNIST, { cache: 'consumer-mnist' });

  const errorNames: Record<string, string> = {
    badLabel: await errorName(lenet.loadTrainingSet({ images: new Uint8Array(784), labels: [10] })),
    badLength: await errorName(lenet.loadTrainingSet({ images: new Uint8Array(700), labels: [1] })),
    badLevel: await errorName(lenet.loadTrainingSet({ images: new Float32Array(784).fill(2), labels: [1] })),
    notAnArray: await errorName(lenet.loadTrainingSet({ images: [0, 1] as unknown as Uint8Array, labels: [1] })),
    badCheckpoint: await errorName(lenet.loadCheckpoint(new Uint8Array([1, 2, 3]))),
    notSaved: await errorName(lenet.loadCheckpoint('indexeddb://never-saved')),
    blank: await errorName(lenet.predictImage(new ImageData(28, 28))),
    badSettings: await errorName(lenet.train({ batchSize: 0 })),
    diverged: await errorName(lenet.train({ learningRate: 10, limit: 2000, readEvery: 1 })),
    missing: await errorName(lenet.loadMnist({ trainImages: '/fault/missing/t10k-labels-idx1-ubyte.gz', trainLabels: MNIST.trainLabels })),
    noWebGpu: await withoutWebGpu(() => errorName(LeNet.create('webgpu'))),
    aborted: abortedLoad,
  };

  await lenet.train({ limit: 3000, batchSize: 50, evaluateEachEpoch: false });
  const batch = new Float32Array(3 * 784);
  for (let i = 0; i < 3; i++) batch.set(Array.from(await lenet.testImage(i), (g) => g / 255), i * 784);
  const together = await lenet.predictBatch(batch);
  let batchMatches = true;
  for (let i = 0; i < 3; i++) {
    const alone = await lenet.predict(batch.subarray(i * 784, (i + 1) * 784));
    batchMatches &&= alone.every((p, j) => Math.abs(p - together[i * 10 + j]) < 1e-5);
  }

  const canvas = document.getElementById('digit') as HTMLCanvasElement;
  drawOne(canvas);
  const bitmap = await createImageBitmap(canvas);
  const bitmapDigit = (await lenet.predictImage(bitmap)).digit;
  const img = new Image();
  img.src = canvas.toDataURL();
  await img.decode();
  const imageDigit = (await lenet.predictImage(img)).digit;
  // The same 1, light on a dark ground.
  const dark = new OffscreenCanvas(140, 140);
  const ctx = dark.getContext('2d')!;
  ctx.filter = 'invert(1)';
  ctx.drawImage(canvas, 0, 0);
  const lightOnDarkDigit = (await lenet.predictImage(dark, { lightOnDark: true })).digit;
  const darkReadAsLight = await errorName(lenet.predictImage(canvas, { lightOnDark: true }).then((p) => p.digit));

  const shape = (views: LayerView[]) => views.map((v) => `${v.layer} ${v.shape.join('x')} ${v.values.length}`);
  const seen = await lenet.predictImage(canvas);
  const layers = await lenet.activations(canvas);
  const fromLevels = await lenet.activations(seen.image);
  const fresh = await LeNet.create('cpu');
  const look = {
    layers: shape(layers),
    lastIsPredict: layers[7].values.every((p, i) => p === seen.probabilities[i]),
    sameFromLevels: fromLevels.every((view, i) => view.values.every((v, j) => v === layers[i].values[j])),
    filters: shape(await lenet.filters()),
    model: (await lenet.modelInUse()).description,
    fresh: (await fresh.modelInUse()).description,
  };
  fresh.free();
  const saved = await lenet.save('indexeddb://consumer-model', { metadata: { note: 'kept' } });
  const listed = (await LeNet.listSaved()).map((m) => m.name);
  const full = await lenet.saveCheckpoint();
  const weightsOnly = await lenet.saveCheckpoint({ weightsOnly: true });
  const url = URL.createObjectURL(new Blob([new Uint8Array(weightsOnly)]));
  let urlProgress = 0;
  const fromUrl = await LeNet.load(url, { backend: 'cpu', onProgress: () => (urlProgress += 1) });
  const urlPrediction = await fromUrl.predictImage(canvas);
  const mine = await lenet.predictImage(canvas);
  const fromBlob = await LeNet.load(new Blob([new Uint8Array(full)]), { backend: 'cpu' });
  const blobLoaded = (await fromBlob.predictImage(canvas)).digit === mine.digit;
  const file = new File([new Uint8Array(full)], 'lenet5.ckpt');
  const fileLoaded = (await fromBlob.loadCheckpoint(file)).step;
  const downloaded = await lenet.save('downloads://consumer-model');
  const levels = new Float32Array(784);
  for (let y = 6; y < 22; y++) levels[y * 28 + 13] = 1;
  const held = await lenet.addExamples([{ image: canvas, label: 1 }, { image: levels, label: 1 }]);
  const steps: number[] = [];
  const report = await lenet.fineTune({
    steps: 5,
    onStep: (p) => {
      steps.push(p.step);
    },
  });
  const tunedBytes = await lenet.saveCheckpoint();
  const reloaded = await LeNet.create('cpu');
  const info = await reloaded.loadCheckpoint(tunedBytes);
  reloaded.free();
  const blankCanvas = document.createElement('canvas');
  blankCanvas.width = blankCanvas.height = 28;
  const teach = {
    held,
    steps,
    report,
    labels: (await lenet.examples()).map((e) => e.label),
    saved: { examples: info.examples, fineTuned: info.fineTuned },
    undone: await lenet.undoFineTune(),
    again: await lenet.undoFineTune(),
    blank: await errorName(lenet.addExamples([{ image: blankCanvas, label: 3 }])),
    badLabel: await errorName(lenet.addExamples([{ image: levels, label: 11 }])),
  };
  const shipped = await LeNet.load(PRETRAINED_MODEL, { backend: 'cpu' });
  const pretrained = {
    url: PRETRAINED_MODEL,
    digit: (await shipped.predictImage(canvas)).digit,
    epochs: (await shipped.loadCheckpoint(PRETRAINED_MODEL)).epochsDone,
  };
  shipped.free();
  fromUrl.free();
  fromBlob.free();
  lenet.free();
  return {
    version: version(),
    pretrained,
    progressCalls,
    progressDone: last.loaded === last.total && last.total > 10_000_000,
    fromCacheFirst: first.fromCache,
    fromCacheAgain: again.fromCache,
    abortedLoad,
    ownCount,
    ownTrained,
    errorNames,
    batchMatches,
    batchLength: together.length,
    bitmapDigit,
    imageDigit,
    lightOnDarkDigit,
    darkReadAsLight,
    saved,
    listed,
    weightsOnlySmaller: weightsOnly.length < full.length / 2,
    look,
    urlLoaded: {
      progressCalls: urlProgress,
      samePrediction: urlPrediction.probabilities.every((p, i) => p === mine.probabilities[i]),
    },
    blobLoaded,
    fileLoaded,
    downloaded,
    probabilities: Array.from(mine.probabilities),
    teach,
  };
}

/** In a fresh page: the model saved in IndexedDB by `checkFeatures()` loads with its metadata
 * and predicts as it did; deleting it empties the list. */
async function loadSavedModel(): Promise<{ metadata: unknown; probabilities: number[]; deleted: boolean; left: string[] }> {
  await init();
  const lenet = await LeNet.load('indexeddb://consumer-model', { backend: 'cpu' });
  const info = await lenet.loadCheckpoint('indexeddb://consumer-model');
  const canvas = document.getElementById('digit') as HTMLCanvasElement;
  drawOne(canvas);
  const { probabilities } = await lenet.predictImage(canvas);
  const deleted = await LeNet.deleteSaved('indexeddb://consumer-model');
  const left = (await LeNet.listSaved()).map((m) => m.name);
  lenet.free();
  return { metadata: info.metadata, probabilities: Array.from(probabilities), deleted, left };
}

/** What `LeNet.create({ worker: true })` gives: the same API, with the model in the package's
 * worker, callbacks (a returned promise pauses) and aborts crossing over. */
export interface InWorker {
  backend: string;
  steps: number[];
  epochs: number;
  result: TrainResult;
  pausedMs: number;
  aborted: string;
  stepsAfterAbort: number;
  digit: number;
  sameAsInThread: boolean;
  /** `activations()` of the canvas in the worker: its last layer, against the prediction. */
  lookedInWorker: boolean;
  badCheckpoint: string;
  loadedInWorker: number;
  afterFree: string;
}

async function checkWorker(): Promise<InWorker> {
  await init({ module_or_path: wasmUrl }); // the .wasm's URL, as an app that hosts it elsewhere gives it
  const lenet = await LeNet.create({ backend: 'cpu', worker: true });
  await lenet.loadMnist(MNIST, { cache: 'consumer-mnist' });
  const steps: number[] = [];
  let epochs = 0;
  let pausedMs = 0;
  const result = await lenet.train({
    limit: 1000,
    batchSize: 50,
    onStep: async (p) => {
      steps.push(p.step);
      if (p.step === 5) {
        const start = performance.now();
        await new Promise((resolve) => setTimeout(resolve, 500));
        pausedMs = performance.now() - start;
      }
    },
    onEpoch: () => {
      epochs += 1;
    },
  });

  const controller = new AbortController();
  let stepsAfterAbort = 0;
  const aborted = await errorName(
    lenet.train({
      limit: 3000,
      signal: controller.signal,
      onStep: (p) => {
        if (controller.signal.aborted) stepsAfterAbort += 1;
        if (p.step === 3) controller.abort();
      },
    }),
  );

  const canvas = document.getElementById('digit') as HTMLCanvasElement;
  drawOne(canvas);
  const inWorker = await lenet.predictImage(canvas);
  const lookedInWorker = (await lenet.activations(canvas))[7].values.every((p, i) => p === inWorker.probabilities[i]);
  const inThread = await LeNet.create('cpu');
  await inThread.loadCheckpoint(await lenet.saveCheckpoint());
  const here = await inThread.predictImage(canvas);
  inThread.free();
  const badCheckpoint = await errorName(lenet.loadCheckpoint(new Uint8Array([1, 2, 3])));
  const url = URL.createObjectURL(new Blob([new Uint8Array(await lenet.saveCheckpoint({ weightsOnly: true }))]));
  const loaded = await LeNet.load(url, { backend: 'cpu', worker: true });
  const loadedInWorker = (await loaded.predictImage(canvas)).digit;
  loaded.free();
  lenet.free();
  const afterFree = await errorName(lenet.evaluate());
  return {
    backend: lenet.backend,
    steps,
    epochs,
    result,
    pausedMs,
    aborted,
    stepsAfterAbort,
    digit: inWorker.digit,
    sameAsInThread: inWorker.probabilities.every((p, i) => p === here.probabilities[i]),
    lookedInWorker,
    badCheckpoint,
    loadedInWorker,
    afterFree,
  };
}

export interface DeviceLoss {
  before: string;
  told: DeviceLost[];
  /** The steps `onStep` saw, the step of the loss marked with a minus. */
  steps: number[];
  result: TrainResult;
  backend: string;
  fallbackReason: string | undefined;
  predicted: number;
  webgpuAgain: string;
}

/** What this uses of WebGPU's `GPUDevice` (TypeScript's DOM types leave WebGPU out). */
interface GpuDevice {
  destroy(): void;
  createCommandEncoder(...args: unknown[]): unknown;
}

/** Makes the GPU go away as a driver reset would: the next command encoder asked for finds its
 * device destroyed. */
function loseGpuDevice(): void {
  const proto = (globalThis as unknown as { GPUDevice: { prototype: GpuDevice } }).GPUDevice.prototype;
  const create = proto.createCommandEncoder;
  proto.createCommandEncoder = function (this: GpuDevice, ...args: unknown[]) {
    proto.createCommandEncoder = create;
    this.destroy();
    return create.apply(this, args);
  };
}

/** The README's device-loss example: the GPU is lost mid-run, and the run goes on on the CPU. */
async function checkDeviceLoss(): Promise<DeviceLoss> {
  await init();
  const told: DeviceLost[] = [];
  const lenet = await LeNet.create({
    backend: 'webgpu',
    onDeviceLost: ({ message, step }) => {
      told.push({ message, step });
    },
  });
  const before = lenet.backend;
  await lenet.loadMnist(MNIST, { cache: 'consumer-mnist' });
  const steps: number[] = [];
  const result = await lenet.train({
    limit: 3000,
    batchSize: 50,
    onStep: (p) => {
      steps.push(p.step);
      if (p.step === 10 && !steps.includes(-10)) {
        steps.push(-p.step);
        loseGpuDevice();
      }
    },
  });
  const canvas = document.getElementById('digit') as HTMLCanvasElement;
  drawOne(canvas);
  const { digit } = await lenet.predictImage(canvas);
  const webgpuAgain = await errorName(lenet.setBackend('webgpu'));
  const report = { before, told, steps, result, backend: lenet.backend, fallbackReason: lenet.fallbackReason, predicted: digit, webgpuAgain };
  lenet.free();
  return report;
}

declare global {
  interface Window {
    checkDeviceLoss: typeof checkDeviceLoss;
    checkWorker: typeof checkWorker;
    checkFeatures: typeof checkFeatures;
    loadSavedModel: typeof loadSavedModel;
    runConsumerTest: () => Promise<Report>;
    checkRules: () => Promise<Rules>;
    tryLoadMnist: typeof tryLoadMnist;
    tryLoadTrainingSet: typeof tryLoadTrainingSet;
  }
}
window.runConsumerTest = runConsumerTest;
window.checkFeatures = checkFeatures;
window.checkWorker = checkWorker;
window.checkDeviceLoss = checkDeviceLoss;
window.loadSavedModel = loadSavedModel;
window.checkRules = checkRules;
window.tryLoadMnist = tryLoadMnist;
window.tryLoadTrainingSet = tryLoadTrainingSet;
document.getElementById('status')!.textContent = 'ready';
