// The benchmark (`make bench`): the built package in headless Chromium, through its public API,
// on the CPU backend and on WebGPU (SwiftShader here), against TensorFlow.js 4.22 in the same
// browser. Prints tables and writes target/bench/bench.json.
//
// Measured, in a Web Worker as the demo page trains: time from LeNet.create() to the end of the
// first training step; steady-state training images per second (after warm-up, reading the loss
// back every 20 steps as the page does); draw-pad prediction latency (median and p95,
// preprocessing included); the .wasm size raw and gzipped; wasm memory after training. TF.js:
// the same LeNet-5 (Adam 0.001, batch 64, on the first MNIST batches) trained with its 'cpu',
// 'webgl' and 'webgpu' backends, each in a fresh browser, the loss read back every step; images
// per second after 2 warm-up steps, and our speed as a ratio to it (our CPU to TF.js's best
// backend, our WebGPU to TF.js's webgpu).
// Training a full run on the CPU with the page's default settings: test accuracy, wasm memory and
// the JS heap (after a forced GC) after epochs 1, 2, 5 and 10, and memory growth from epoch 2 to
// the last.
//
// Environment: BENCH_CPU_STEPS (default 200), BENCH_WEBGPU_STEPS (default 20) and
// BENCH_TFJS_STEPS (default 10) set how many steady-state steps are timed; BENCH_EPOCHS
// (default 10, 0 skips it) how many epochs the full run trains; BENCH_BATCH (default 64) the
// batch size of the timed steps.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { MNIST_PATHS, launchBrowser, startServer } from '../e2e/browser.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WARMUP_STEPS = 10;
const BATCH_SIZE = Number(process.env.BENCH_BATCH ?? 64);
const PREDICTIONS = 200;
const TFJS_WARMUP_STEPS = 2;
const TFJS_BACKENDS = ['cpu', 'webgl', 'webgpu'];
/** Epochs after which the full run reports accuracy and memory (its last one is added). */
const EPOCH_CHECKPOINTS = [1, 2, 5, 10];

/** Runs in a Web Worker, as the demo page trains: `steps` timed steps after warm-up, then
 * predictions. */
async function measure({ backend, steps, warmup, batchSize, predictions }) {
  const { default: init, LeNet } = await import('/pkg/lenet_web.js');
  const wasm = await init();
  const started = performance.now();
  const lenet = await LeNet.create(backend);
  await lenet.loadMnist({ trainImages: '/data/train-images-idx3-ubyte.gz', trainLabels: '/data/train-labels-idx1-ubyte.gz' });
  const loaded = performance.now();
  let firstStep = null;
  let timedFrom = null;
  let timedTo = null;
  await lenet.train({
    batchSize,
    readEvery: 20,
    limit: (warmup + steps) * batchSize,
    evaluateEachEpoch: false,
    onStep: (p) => {
      const now = performance.now();
      if (p.step === 1) firstStep = now;
      if (p.step === warmup) timedFrom = now;
      if (p.step === warmup + steps) timedTo = now;
    },
  });

  // A "7" drawn on a 280x280 canvas, classified as the draw pad does.
  const canvas = new OffscreenCanvas(280, 280);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, 280, 280);
  ctx.strokeStyle = '#000';
  ctx.lineWidth = 24;
  ctx.beginPath();
  ctx.moveTo(60, 60);
  ctx.lineTo(220, 60);
  ctx.lineTo(120, 240);
  ctx.stroke();
  const image = ctx.getImageData(0, 0, 280, 280);
  for (let i = 0; i < 10; i++) (await lenet.predictImage(image)).free();
  const latencies = [];
  for (let i = 0; i < predictions; i++) {
    const t = performance.now();
    (await lenet.predictImage(image)).free();
    latencies.push(performance.now() - t);
  }
  latencies.sort((a, b) => a - b);
  return {
    backend: lenet.backend,
    loadMs: loaded - started,
    firstStepMs: firstStep - loaded,
    imagesPerSecond: (steps * batchSize * 1000) / (timedTo - timedFrom),
    predictMedianMs: latencies[Math.floor(latencies.length / 2)],
    predictP95Ms: latencies[Math.floor(latencies.length * 0.95)],
    wasmMemoryBytes: wasm.memory.buffer.byteLength,
  };
}

/** The module a bench worker runs: `measure`, answering the one message it gets. */
const WORKER_SOURCE = `${measure}
onmessage = async ({ data }) => {
  try {
    postMessage(await measure(data));
  } catch (e) {
    postMessage({ error: String(e?.stack ?? e) });
  }
};`;

async function run(backend, steps) {
  const browser = await launchBrowser({ webgpu: backend === 'webgpu' });
  const server = await startServer();
  try {
    const page = await browser.newPage();
    // Served from the page's own origin, as the page's CSP wants of workers.
    await page.route(`${server.url}bench-worker.mjs`, (route) => route.fulfill({ contentType: 'text/javascript', body: WORKER_SOURCE }));
    await page.goto(server.url);
    const result = await page.evaluate(
      (options) =>
        new Promise((resolve) => {
          const worker = new Worker('/bench-worker.mjs', { type: 'module' });
          worker.onmessage = ({ data }) => resolve(data);
          worker.onerror = (e) => resolve({ error: e.message });
          worker.postMessage(options);
        }),
      { backend, steps, warmup: WARMUP_STEPS, batchSize: BATCH_SIZE, predictions: PREDICTIONS },
    );
    if (result.error) throw new Error(`${backend}: ${result.error}`);
    return result;
  } finally {
    await browser.close();
    server.close();
  }
}

/**
 * Runs in the page: TF.js's LeNet-5 on `backend`, trained on the first MNIST batches; times
 * `steps` steps after warm-up, awaiting the loss of every step.
 */
async function measureTfjs({ backend, steps, warmup, batchSize }) {
  const load = (src) =>
    new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = src;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`${src} did not load`));
      document.head.append(script);
    });
  await load('/node_modules/@tensorflow/tfjs/dist/tf.es2017.min.js');
  if (backend === 'webgpu') await load('/node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.es2017.min.js');
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') failed`);

  const idx = async (url, header) => {
    const body = (await fetch(url)).body.pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(body).arrayBuffer()).subarray(header);
  };
  const images = await idx('/data/train-images-idx3-ubyte.gz', 16);
  const labels = await idx('/data/train-labels-idx1-ubyte.gz', 8);

  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 120, activation: 'relu' }),
      tf.layers.dense({ units: 84, activation: 'relu' }),
      tf.layers.dense({ units: 10 }),
    ],
  });
  const optimizer = tf.train.adam(0.001);
  const step = async (i) => {
    const from = (i % Math.floor(labels.length / batchSize)) * batchSize;
    const loss = tf.tidy(() => {
      const x = tf.tensor4d(Float32Array.from(images.subarray(from * 784, (from + batchSize) * 784), (v) => v / 255), [batchSize, 28, 28, 1]);
      const y = tf.oneHot(tf.tensor1d(Int32Array.from(labels.subarray(from, from + batchSize)), 'int32'), 10);
      return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), true);
    });
    const [value] = await loss.data();
    loss.dispose();
    return value;
  };

  const losses = [];
  for (let i = 0; i < warmup; i++) losses.push(await step(i));
  const started = performance.now();
  for (let i = warmup; i < warmup + steps; i++) losses.push(await step(i));
  const elapsed = performance.now() - started;
  return { backend: tf.getBackend(), version: tf.version.tfjs, msPerStep: elapsed / steps, imagesPerSecond: (steps * batchSize * 1000) / elapsed, losses };
}

/** Runs in the page: trains `epochs` epochs on the CPU with the defaults, calling `benchEpoch` after each of `checkpoints`. */
async function trainEpochs({ epochs, checkpoints, mnist }) {
  const { default: init, LeNet } = await import('/pkg/lenet_web.js');
  const wasm = await init();
  const lenet = await LeNet.create('cpu');
  await lenet.loadMnist(mnist);
  await lenet.train({
    epochs,
    evaluateEachEpoch: true,
    onEpoch: async ({ epoch, evaluation }) => {
      if (checkpoints.includes(epoch)) await window.benchEpoch({ epoch, accuracy: evaluation.accuracy, wasmMemoryBytes: wasm.memory.buffer.byteLength });
    },
  });
}

/**
 * TF.js on `backend`, or the error's text (with TF.js's warnings, which say why a backend did
 * not initialise) when it fails. serve.py serves only the page, so the TF.js bundles come from
 * node_modules through the browser, at same-origin URLs.
 */
async function runTfjs(backend, steps) {
  const browser = await launchBrowser({ webgpu: backend === 'webgpu' });
  const server = await startServer();
  const warnings = [];
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'warning') warnings.push(m.text().split('\n')[0]);
    });
    await page.route(`${server.url}node_modules/@tensorflow/**`, (route) => route.fulfill({ path: join(ROOT, new URL(route.request().url()).pathname) }));
    await page.goto(server.url);
    return await page.evaluate(measureTfjs, { backend, steps, warmup: TFJS_WARMUP_STEPS, batchSize: BATCH_SIZE });
  } catch (e) {
    return { backend, error: [e.message.split('\n')[0], ...warnings].join('; ') };
  } finally {
    await browser.close();
    server.close();
  }
}

/** The full run on the CPU: accuracy, wasm memory and the JS heap after a forced GC, per checkpoint epoch. */
async function runEpochs(epochs) {
  const checkpoints = [...new Set([...EPOCH_CHECKPOINTS, epochs])].filter((e) => e <= epochs);
  const browser = await launchBrowser();
  const server = await startServer();
  try {
    const page = await browser.newPage();
    const cdp = await page.context().newCDPSession(page);
    const after = [];
    await page.exposeFunction('benchEpoch', async (report) => {
      await cdp.send('HeapProfiler.collectGarbage');
      const { usedSize } = await cdp.send('Runtime.getHeapUsage');
      after.push({ ...report, jsHeapBytes: usedSize });
    });
    await page.goto(server.url);
    await page.evaluate(trainEpochs, { epochs, checkpoints, mnist: MNIST_PATHS });
    const [second, last] = [after.find((r) => r.epoch === 2), after.at(-1)];
    const growth = (key) => (second && last.epoch > 2 ? (100 * (last[key] - second[key])) / second[key] : null);
    return { epochs, after, growthPercent: { wasmMemory: growth('wasmMemoryBytes'), jsHeap: growth('jsHeapBytes') } };
  } finally {
    await browser.close();
    server.close();
  }
}

const wasm = readFileSync(`${ROOT}/pkg/lenet_web_bg.wasm`);
const results = {
  date: new Date().toISOString(),
  batchSize: BATCH_SIZE,
  wasmBytes: wasm.length,
  wasmGzipBytes: gzipSync(wasm, { level: 9 }).length,
  cpu: await run('cpu', Number(process.env.BENCH_CPU_STEPS ?? 200)),
  webgpu: await run('webgpu', Number(process.env.BENCH_WEBGPU_STEPS ?? 20)),
};
const tfjsSteps = Number(process.env.BENCH_TFJS_STEPS ?? 10);
const tfjs = { steps: tfjsSteps, warmup: TFJS_WARMUP_STEPS };
for (const backend of TFJS_BACKENDS) tfjs[backend] = await runTfjs(backend, tfjsSteps);
const best = TFJS_BACKENDS.filter((b) => !tfjs[b].error).sort((a, b) => tfjs[b].imagesPerSecond - tfjs[a].imagesPerSecond)[0] ?? null;
tfjs.best = best;
tfjs.ratios = {
  cpuToBest: best && results.cpu.imagesPerSecond / tfjs[best].imagesPerSecond,
  webgpuToWebgpu: tfjs.webgpu.error ? null : results.webgpu.imagesPerSecond / tfjs.webgpu.imagesPerSecond,
};
results.tfjs = tfjs;
const epochs = Number(process.env.BENCH_EPOCHS ?? 10);
results.epochs = epochs > 0 ? await runEpochs(epochs) : null;

const speed = (r) => Math.round(r.imagesPerSecond).toLocaleString('en');
const ratio = (x) => (x === null ? 'n/a' : `${x.toFixed(2)}×`);

const row = (name, f) => `| ${name} | ${f(results.cpu)} | ${f(results.webgpu)} |`;
console.log(
  [
    `| measure (batch ${BATCH_SIZE}) | CPU | WebGPU |`,
    '|---|---|---|',
    row('training images / s', speed),
    row('first step after loading (ms)', (r) => Math.round(r.firstStepMs)),
    row('create + load MNIST (ms)', (r) => Math.round(r.loadMs)),
    row('prediction median (ms)', (r) => r.predictMedianMs.toFixed(2)),
    row('prediction p95 (ms)', (r) => r.predictP95Ms.toFixed(2)),
    row('wasm memory (bytes)', (r) => r.wasmMemoryBytes.toLocaleString('en')),
    `| .wasm raw / gzip -9 (bytes) | ${results.wasmBytes.toLocaleString('en')} | ${results.wasmGzipBytes.toLocaleString('en')} |`,
    `| TF.js training images / s (CPU: its best backend) | ${best ? `${speed(tfjs[best])} (${best})` : 'n/a'} | ${tfjs.webgpu.error ? 'n/a' : speed(tfjs.webgpu)} |`,
    `| ours ÷ TF.js | ${ratio(tfjs.ratios.cpuToBest)} | ${ratio(tfjs.ratios.webgpuToWebgpu)} |`,
  ].join('\n'),
);

const tfjsCell = (f) => TFJS_BACKENDS.map((b) => (tfjs[b].error ? 'failed' : f(tfjs[b]))).join(' | ');
console.log(
  [
    '',
    `| TF.js 4.22 (batch ${BATCH_SIZE}, ${tfjsSteps} timed steps after ${TFJS_WARMUP_STEPS}) | ${TFJS_BACKENDS.join(' | ')} |`,
    '|---|---|---|---|',
    `| training images / s | ${tfjsCell(speed)} |`,
    `| ms per step | ${tfjsCell((r) => Math.round(r.msPerStep))} |`,
    `| loss, first → last step | ${tfjsCell((r) => `${r.losses[0].toFixed(3)} → ${r.losses.at(-1).toFixed(3)}`)} |`,
    ...TFJS_BACKENDS.filter((b) => tfjs[b].error).map((b) => `TF.js ${b} failed: ${tfjs[b].error}`),
  ].join('\n'),
);

if (results.epochs) {
  const { after, growthPercent } = results.epochs;
  const percent = (x) => (x === null ? 'n/a' : `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`);
  const epochRow = (name, f) => `| ${name} | ${after.map(f).join(' | ')} |`;
  console.log(
    [
      '',
      `| CPU, default settings | ${after.map((r) => `epoch ${r.epoch}`).join(' | ')} |`,
      `|---|${after.map(() => '---|').join('')}`,
      epochRow('test accuracy', (r) => `${(r.accuracy * 100).toFixed(2)}%`),
      epochRow('wasm memory (bytes)', (r) => r.wasmMemoryBytes.toLocaleString('en')),
      epochRow('JS heap after GC (bytes)', (r) => r.jsHeapBytes.toLocaleString('en')),
      ...(epochs > 2 ? [`memory growth, epoch 2 → ${epochs}: wasm ${percent(growthPercent.wasmMemory)}, JS heap ${percent(growthPercent.jsHeap)}`] : []),
    ].join('\n'),
  );
}
mkdirSync(`${ROOT}/target/bench`, { recursive: true });
writeFileSync(`${ROOT}/target/bench/bench.json`, JSON.stringify(results, null, 2));
console.log('written: target/bench/bench.json');
