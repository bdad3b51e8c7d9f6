// The benchmark (`make bench`): the built package in headless Chromium, through its public API,
// on the CPU backend and on WebGPU (SwiftShader here), against two peers that train in the browser
// too, TensorFlow.js 4.22 and jax-js 0.1.25. Prints tables and writes target/bench/bench.json.
//
// Measured, in a Web Worker as the demo page trains: time from LeNet.create() to the end of the
// first training step; steady-state training images per second (after warm-up, reading the loss
// back every 20 steps as the page does); draw-pad prediction latency (median and p95,
// preprocessing included); the .wasm size raw and gzipped; wasm memory after training.
// The peers: the same LeNet-5 (Adam 0.001, batch 64, on the first MNIST batches), each backend in
// a fresh browser, on the main thread of a blank page that is cross-origin isolated (jax-js's wasm
// backend starts worker threads only then), the loss read back every step. TF.js trains with its
// 'cpu', 'webgl' and 'webgpu' backends after 2 warm-up steps; jax-js with 'wasm' and 'webgpu', its
// whole step compiled with `jit` during 3 warm-up steps. Images per second, and our speed as a
// ratio to the fastest peer of each class: our CPU against jax-js wasm and TF.js cpu and webgl,
// our WebGPU against their webgpu.
// Training a full run on the CPU with the page's default settings: test accuracy, wasm memory and
// the JS heap (after a forced GC) after epochs 1, 2, 5 and 10, and memory growth from epoch 2 to
// the last.
//
// Environment: BENCH_CPU_STEPS (default 200), BENCH_WEBGPU_STEPS (default 20), BENCH_TFJS_STEPS
// (default 10) and BENCH_JAX_STEPS (default 20) set how many steady-state steps are timed;
// BENCH_EPOCHS (default 10, 0 skips it) how many epochs the full run trains; BENCH_BATCH (default
// 64) the batch size of the timed steps; BENCH_PEERS_ONLY=1 trains the peers alone.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { MNIST_PATHS, launchBrowser, startServer } from '../e2e/browser.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Steps before the timed ones: a multiple of the read-back interval (20), so that timing starts
 * just after a read-back, when WebGPU has finished the warm-up's work (the package queues GPU
 * work ahead and waits for it only when it reads back). */
const WARMUP_STEPS = 20;
const BATCH_SIZE = Number(process.env.BENCH_BATCH ?? 64);
const PREDICTIONS = 200;
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
  for (let i = 0; i < 10; i++) await lenet.predictImage(image);
  const latencies = [];
  for (let i = 0; i < predictions; i++) {
    const t = performance.now();
    await lenet.predictImage(image);
    latencies.push(performance.now() - t);
  }
  latencies.sort((a, b) => a - b);
  // The read-back of a run's copy into memory (which a run on WebGPU makes every 5 s, against a
  // lost device), as `saveCheckpoint()` makes it.
  const copies = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await lenet.saveCheckpoint();
    copies.push(performance.now() - t);
  }
  copies.sort((a, b) => a - b);
  return {
    backend: lenet.backend,
    loadMs: loaded - started,
    firstStepMs: firstStep - loaded,
    imagesPerSecond: (steps * batchSize * 1000) / (timedTo - timedFrom),
    predictMedianMs: latencies[Math.floor(latencies.length / 2)],
    predictP95Ms: latencies[Math.floor(latencies.length * 0.95)],
    copyMedianMs: copies[copies.length / 2],
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
    // Served from the page's own origin, as the page's CSP wants of workers, and with the COEP
    // of the page (cross-origin isolated), without which the browser refuses to start it.
    const headers = { 'Cross-Origin-Embedder-Policy': 'require-corp' };
    await page.route(`${server.url}bench-worker.mjs`, (route) => route.fulfill({ contentType: 'text/javascript', headers, body: WORKER_SOURCE }));
    await page.goto(server.url);
    const result = await page.evaluate(
      (options) =>
        new Promise((resolve) => {
          const worker = new Worker('/bench-worker.mjs', { type: 'module' });
          worker.onmessage = ({ data }) => resolve(data);
          worker.onerror = (e) => resolve({ error: e.message || 'the bench worker did not start' });
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
 * Runs in the page: loads TF.js on `backend` and defines `window.benchStep`, one training step of
 * its LeNet-5 (Adam 0.001) on a batch, which resolves to the batch's loss.
 */
async function setUpTfjs({ backend }) {
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
  window.benchStep = async (pixels, labels) => {
    const loss = tf.tidy(() => {
      const x = tf.tensor4d(pixels, [labels.length, 28, 28, 1]);
      const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
      return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), true);
    });
    const [value] = await loss.data();
    loss.dispose();
    return value;
  };
}

/**
 * Runs in the page: loads jax-js on `backend` and defines `window.benchStep` as setUpTfjs does:
 * the same LeNet-5 (conv1 padded by 2 as ours, ReLU, 2x2 max pooling; the layers written as in
 * jax-js's own MNIST demo), its whole training step (forward, gradients, Adam 0.001) compiled
 * with `jit`. jax-js has no optimizer on npm, so Adam is written out.
 */
async function setUpJax({ backend }) {
  const { init, defaultDevice, jit, valueAndGrad, lax, nn, numpy: np, random, tree } = await import('/node_modules/@jax-js/jax/dist/index.js');
  if (!(await init(backend)).includes(backend)) throw new Error(`jax-js could not start its '${backend}' backend`);
  defaultDevice(backend);

  // Uniform in ±1/sqrt(fan-in), as burn's layers (and the demo's) start.
  const uniform = (key, shape, fanIn) => random.uniform(key, shape, { minval: -1 / Math.sqrt(fanIn), maxval: 1 / Math.sqrt(fanIn) });
  const keys = [...random.split(random.key(0), 10)];
  let params = {
    conv1: uniform(keys[0], [6, 1, 5, 5], 25),
    conv1Bias: uniform(keys[1], [6, 1, 1], 25),
    conv2: uniform(keys[2], [16, 6, 5, 5], 150),
    conv2Bias: uniform(keys[3], [16, 1, 1], 150),
    fc1: uniform(keys[4], [400, 120], 400),
    fc1Bias: uniform(keys[5], [120], 400),
    fc2: uniform(keys[6], [120, 84], 120),
    fc2Bias: uniform(keys[7], [84], 120),
    fc3: uniform(keys[8], [84, 10], 84),
    fc3Bias: uniform(keys[9], [10], 84),
  };

  // jax-js counts references: every use of an array consumes one (`.ref` takes another).
  const maxPool = (x) => lax.reduceWindow(x, np.max, [2, 2], [2, 2]);
  const logits = (p, x) => {
    // [batch, 1, 28, 28]
    x = maxPool(nn.relu(lax.convGeneralDilated(x, p.conv1, [1, 1], [[2, 2], [2, 2]]).add(p.conv1Bias)));
    // [batch, 6, 14, 14]
    x = maxPool(nn.relu(lax.convGeneralDilated(x, p.conv2, [1, 1], 'VALID').add(p.conv2Bias)));
    // [batch, 16, 5, 5]
    x = nn.relu(np.dot(x.reshape([-1, 400]), p.fc1).add(p.fc1Bias));
    x = nn.relu(np.dot(x, p.fc2).add(p.fc2Bias));
    return np.dot(x, p.fc3).add(p.fc3Bias);
  };
  const loss = (p, x, y) => nn.logSoftmax(logits(p, x)).mul(nn.oneHot(y, 10)).sum().mul(-1 / y.shape[0]);

  // Adam (Kingma and Ba 2015, with their defaults); `stepSize` is the learning rate with both
  // bias corrections folded in (their section 2), computed from the step number outside `jit`.
  const [LEARNING_RATE, B1, B2, EPSILON] = [0.001, 0.9, 0.999, 1e-8];
  const trainStep = jit((p, m, v, x, y, stepSize) => {
    const [value, grads] = valueAndGrad(loss)(tree.ref(p), x, y);
    m = tree.map((m, g) => m.mul(B1).add(g.mul(1 - B1)), m, tree.ref(grads));
    v = tree.map((v, g) => v.mul(B2).add(g.ref.mul(g).mul(1 - B2)), v, grads);
    p = tree.map((p, m, v) => p.sub(m.mul(stepSize.ref).div(np.sqrt(v).add(EPSILON))), p, tree.ref(m), tree.ref(v));
    stepSize.dispose();
    return [value, p, m, v];
  });
  let m = tree.map((p) => np.zerosLike(p), tree.ref(params));
  let v = tree.map((p) => np.zerosLike(p), tree.ref(params));
  let t = 0;
  window.benchStep = async (pixels, labels) => {
    t += 1;
    const x = np.array(pixels, { shape: [labels.length, 1, 28, 28] });
    const y = np.array(labels, { dtype: np.int32 });
    const stepSize = (LEARNING_RATE * Math.sqrt(1 - B2 ** t)) / (1 - B1 ** t);
    let value;
    [value, params, m, v] = trainStep(params, m, v, x, y, stepSize);
    const [lossValue] = await value.data();
    return lossValue;
  };
}

/**
 * Runs in the page: times `window.benchStep` on the first MNIST batches, `steps` steps after
 * `warmup`, each awaiting its loss; says whether the page could start worker threads.
 */
async function timeSteps({ steps, warmup, batchSize }) {
  const idx = async (url, header) => {
    const body = (await fetch(url)).body.pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(body).arrayBuffer()).subarray(header);
  };
  const images = await idx('/data/train-images-idx3-ubyte.gz', 16);
  const labels = await idx('/data/train-labels-idx1-ubyte.gz', 8);
  const step = (i) => {
    const from = (i % Math.floor(labels.length / batchSize)) * batchSize;
    const pixels = Float32Array.from(images.subarray(from * 784, (from + batchSize) * 784), (v) => v / 255);
    return window.benchStep(pixels, Int32Array.from(labels.subarray(from, from + batchSize)));
  };

  const losses = [];
  for (let i = 0; i < warmup; i++) losses.push(await step(i));
  const started = performance.now();
  for (let i = warmup; i < warmup + steps; i++) losses.push(await step(i));
  const elapsed = performance.now() - started;
  return {
    msPerStep: elapsed / steps,
    imagesPerSecond: (steps * batchSize * 1000) / elapsed,
    losses,
    crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
  };
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
 * The page the peers train on, at the server's origin: blank, so that nothing else runs beside
 * them, and cross-origin isolated (COOP and COEP), so that jax-js's wasm backend may start its
 * worker threads. Not the demo page: its Content-Security-Policy (`worker-src 'self'`) blocks the
 * blob: workers jax-js starts, and jax-js then waits for them for ever.
 */
const PEER_PAGE = {
  contentType: 'text/html',
  headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
  body: '<!doctype html><meta charset="utf-8"><title>peer</title>',
};

/**
 * Trains `peer` on `backend` in a fresh browser, on the page's main thread (where a web developer
 * would train), and returns its figures, or the error's text with the page's warnings (which say
 * why a backend did not initialise). serve.py serves only the demo, so the page and the peers'
 * bundles (from node_modules) come through the browser, at same-origin URLs.
 */
async function runPeer(peer, backend) {
  const browser = await launchBrowser({ webgpu: backend === 'webgpu' });
  const server = await startServer();
  const warnings = [];
  const { version } = JSON.parse(readFileSync(join(ROOT, 'node_modules', peer.package, 'package.json'), 'utf8'));
  const about = { peer: peer.name, version, backend, warmup: peer.warmup, steps: peer.steps };
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'warning') warnings.push(m.text().split('\n')[0]);
    });
    await page.route(`${server.url}node_modules/**`, (route) => route.fulfill({ path: join(ROOT, new URL(route.request().url()).pathname) }));
    await page.route(`${server.url}peer.html`, (route) => route.fulfill(PEER_PAGE));
    await page.goto(`${server.url}peer.html`);
    await page.evaluate(peer.setUp, { backend });
    return { ...about, ...(await page.evaluate(timeSteps, { steps: peer.steps, warmup: peer.warmup, batchSize: BATCH_SIZE })) };
  } catch (e) {
    return { ...about, error: [e.message.split('\n')[0], ...warnings].join('; ') };
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

/**
 * The peers, each training the same LeNet-5 on each of its backends: its npm package, how many
 * steps it warms up (jax-js compiles its step in the first) and how many are timed.
 */
const PEERS = [
  { name: 'TF.js', package: '@tensorflow/tfjs', setUp: setUpTfjs, backends: ['cpu', 'webgl', 'webgpu'], warmup: 2, steps: Number(process.env.BENCH_TFJS_STEPS ?? 10) },
  { name: 'jax-js', package: '@jax-js/jax', setUp: setUpJax, backends: ['wasm', 'webgpu'], warmup: 3, steps: Number(process.env.BENCH_JAX_STEPS ?? 20) },
];
/** The classes a peer's backend competes in: WebGPU against our WebGPU, the others against our CPU backend. */
const CLASSES = { cpu: 'CPU', webgpu: 'WebGPU' };
const classOf = (backend) => (backend === 'webgpu' ? 'webgpu' : 'cpu');

const ours = process.env.BENCH_PEERS_ONLY !== '1';
const wasm = readFileSync(`${ROOT}/pkg/lenet_web_bg.wasm`);
const results = {
  date: new Date().toISOString(),
  batchSize: BATCH_SIZE,
  wasmBytes: wasm.length,
  wasmGzipBytes: gzipSync(wasm, { level: 9 }).length,
  cpu: ours ? await run('cpu', Number(process.env.BENCH_CPU_STEPS ?? 200)) : null,
  webgpu: ours ? await run('webgpu', Number(process.env.BENCH_WEBGPU_STEPS ?? 20)) : null,
  peers: [],
};
for (const peer of PEERS) for (const backend of peer.backends) results.peers.push(await runPeer(peer, backend));
/** Per class: the fastest peer, and our speed as a ratio to its. */
results.versus = Object.fromEntries(
  Object.keys(CLASSES).map((c) => {
    const [best] = results.peers.filter((r) => !r.error && classOf(r.backend) === c).sort((a, b) => b.imagesPerSecond - a.imagesPerSecond);
    const oursToBest = best && results[c] ? results[c].imagesPerSecond / best.imagesPerSecond : null;
    return [c, best ? { peer: best.peer, backend: best.backend, imagesPerSecond: best.imagesPerSecond, oursToBest } : null];
  }),
);
const epochs = ours ? Number(process.env.BENCH_EPOCHS ?? 10) : 0;
results.epochs = epochs > 0 ? await runEpochs(epochs) : null;

const speed = (r) => Math.round(r.imagesPerSecond).toLocaleString('en');
const ratio = (x) => (x === null ? 'n/a' : `${x.toFixed(2)}×`);

if (ours) {
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
      row('copy of the run into memory, median (ms)', (r) => r.copyMedianMs.toFixed(2)),
      row('wasm memory (bytes)', (r) => r.wasmMemoryBytes.toLocaleString('en')),
      `| .wasm raw / gzip -9 (bytes) | ${results.wasmBytes.toLocaleString('en')} | ${results.wasmGzipBytes.toLocaleString('en')} |`,
    ].join('\n'),
  );
}

const peerRow = (r) =>
  r.error
    ? `| ${r.peer} ${r.version} | ${r.backend} | failed | | | | |`
    : `| ${r.peer} ${r.version} | ${r.backend} | ${speed(r)} | ${Math.round(r.msPerStep)} | ${r.losses[r.warmup].toFixed(3)} → ${r.losses.at(-1).toFixed(3)} | ${r.steps} after ${r.warmup} | ${r.crossOriginIsolated ? 'yes' : 'no'}, ${r.hardwareConcurrency} |`;
console.log(
  [
    '',
    `| peer (batch ${BATCH_SIZE}) | backend | training images / s | ms per step | loss, first → last timed step | steps timed | cross-origin isolated, cores |`,
    '|---|---|---|---|---|---|---|',
    ...results.peers.map(peerRow),
    ...results.peers.filter((r) => r.error).map((r) => `${r.peer} ${r.backend} failed: ${r.error}`),
  ].join('\n'),
);

const classRow = ([c, name]) => {
  const rivals = results.peers.filter((r) => classOf(r.backend) === c).map((r) => `${r.peer} ${r.backend}`);
  const best = results.versus[c];
  return `| ${name}: our ${c} against ${rivals.join(', ')} | ${results[c] ? speed(results[c]) : 'n/a'} | ${best ? `${speed(best)} (${best.peer} ${best.backend})` : 'n/a'} | ${ratio(best?.oursToBest ?? null)} |`;
};
console.log(
  [
    '',
    `| training images / s (batch ${BATCH_SIZE}) | ours | best peer | ours ÷ best peer |`,
    '|---|---|---|---|',
    ...Object.entries(CLASSES).map(classRow),
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
