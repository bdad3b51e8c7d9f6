// The benchmark (`make bench`): the built package in headless Chromium, through its public API,
// on the CPU backend and on WebGPU (SwiftShader here). Prints a table and writes
// target/bench/bench.json.
//
// Measured: time from LeNet.create() to the end of the first training step; steady-state
// training images per second (after warm-up, reading the loss back every 20 steps as the page
// does); draw-pad prediction latency (median and p95, preprocessing included); the .wasm size raw
// and gzipped; wasm memory after training.
//
// Environment: BENCH_CPU_STEPS (default 200) and BENCH_WEBGPU_STEPS (default 20) set how many
// steady-state steps are timed.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { launchBrowser, startServer } from '../e2e/browser.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WARMUP_STEPS = 10;
const BATCH_SIZE = 64;
const PREDICTIONS = 200;

/** Runs in the page: trains `steps` timed steps after warm-up and times predictions. */
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

async function run(backend, steps) {
  const browser = await launchBrowser({ webgpu: backend === 'webgpu' });
  const server = await startServer();
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    return await page.evaluate(measure, { backend, steps, warmup: WARMUP_STEPS, batchSize: BATCH_SIZE, predictions: PREDICTIONS });
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

const row = (name, f) => `| ${name} | ${f(results.cpu)} | ${f(results.webgpu)} |`;
console.log(
  [
    `| measure (batch ${BATCH_SIZE}) | CPU | WebGPU |`,
    '|---|---|---|',
    row('training images / s', (r) => Math.round(r.imagesPerSecond).toLocaleString('en')),
    row('first step after loading (ms)', (r) => Math.round(r.firstStepMs)),
    row('create + load MNIST (ms)', (r) => Math.round(r.loadMs)),
    row('prediction median (ms)', (r) => r.predictMedianMs.toFixed(2)),
    row('prediction p95 (ms)', (r) => r.predictP95Ms.toFixed(2)),
    row('wasm memory (bytes)', (r) => r.wasmMemoryBytes.toLocaleString('en')),
    `| .wasm raw / gzip -9 (bytes) | ${results.wasmBytes.toLocaleString('en')} | ${results.wasmGzipBytes.toLocaleString('en')} |`,
  ].join('\n'),
);
mkdirSync(`${ROOT}/target/bench`, { recursive: true });
writeFileSync(`${ROOT}/target/bench/bench.json`, JSON.stringify(results, null, 2));
console.log('written: target/bench/bench.json');
