// A web app using lenet-web as its README shows: create a trainer, load MNIST from URLs, train
// with callbacks, predict from a canvas and from pixels, save and load a checkpoint, abort a run.
// consumer.test.mjs runs `runConsumerTest()` in headless Chromium and checks what it reports;
// `tsc --noEmit` checks this file against the package's types.

import init, {
  type EpochReport,
  type MnistCounts,
  type MnistUrls,
  type Progress,
  type ResumeOptions,
  type TrainResult,
  type TrainingSettings,
  LeNet,
} from 'lenet-web';

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

declare global {
  interface Window {
    runConsumerTest: () => Promise<Report>;
    checkRules: () => Promise<Rules>;
    tryLoadMnist: typeof tryLoadMnist;
    tryLoadTrainingSet: typeof tryLoadTrainingSet;
  }
}
window.runConsumerTest = runConsumerTest;
window.checkRules = checkRules;
window.tryLoadMnist = tryLoadMnist;
window.tryLoadTrainingSet = tryLoadTrainingSet;
document.getElementById('status')!.textContent = 'ready';
