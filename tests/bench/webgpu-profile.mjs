// Where a WebGPU training step goes: the built package trains LeNet-5 in headless Chromium (WebGPU
// on SwiftShader here) with the WebGPU API instrumented in the page before the package loads.
// Prints, per steady-state step: the WebGPU calls the step makes (dispatches, pipelines, buffers,
// writes, copies, submits, read-backs, bind groups), the dispatches grouped by kernel with the GPU
// time of each (timestamp queries, one compute pass per dispatch), and the wall time of the step
// against the sum of its kernel times. Writes target/bench/webgpu-profile.json and the WGSL of
// every kernel the profiled steps dispatch to target/bench/webgpu-shaders/.
//
// Two runs, each in a fresh browser: one plain (steps/s without instrumentation), one
// instrumented. Training runs on the page's main thread; the instrumentation changes how the
// package's commands are split into compute passes, never what they compute (the losses of the
// two runs are printed side by side).
//
// The package queues GPU work far ahead and waits for it only when it reads the loss back, so a
// step's wall time means something only over whole read-back periods: the profiled steps start
// just after a read-back and end with one (by default 10 warm-up steps, 10 profiled, a read-back
// every 10; the page reads every 20).
//
// Environment: PROFILE_READ_EVERY (default 10), PROFILE_WARMUP and PROFILE_STEPS (default: as
// PROFILE_READ_EVERY; keep both multiples of it), PROFILE_BATCH (64), PROFILE_TOP (30 kernels
// printed); PROFILE_TIMESTAMPS=0 skips the timestamp queries (counts and waits only);
// PROFILE_FLAGS, extra Chromium flags (default --enable-webgpu-developer-features, which turns off
// the quantisation of timestamps).

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MNIST_PATHS, launchBrowser, startServer } from '../e2e/browser.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = `${ROOT}/target/bench`;
const READ_EVERY = Number(process.env.PROFILE_READ_EVERY ?? 10);
const WARMUP = Number(process.env.PROFILE_WARMUP ?? READ_EVERY);
const STEPS = Number(process.env.PROFILE_STEPS ?? READ_EVERY);
const BATCH_SIZE = Number(process.env.PROFILE_BATCH ?? 64);
const TIMESTAMPS = process.env.PROFILE_TIMESTAMPS !== '0';
const EXTRA_FLAGS = (process.env.PROFILE_FLAGS ?? '--enable-webgpu-developer-features').split(/\s+/).filter(Boolean);

/**
 * Runs in the page before any of its scripts: wraps the WebGPU API to count calls and time
 * dispatches, and exposes `globalThis.webgpuProfile` ({ setStep, settle, report }).
 *
 * Calls made after step k has been reported (setStep(k)) count for step k + 1; steps
 * `from + 1 .. to` are profiled. With `timestamps`, the device gets the 'timestamp-query'
 * feature and each compute pass the package begins is replaced by a recorder: every dispatch is
 * replayed into a compute pass of its own whose beginning and end write timestamps into a query
 * set; `finish()` appends the resolve and a copy into a mappable buffer, read after the submit.
 * The instrumentation's own WebGPU calls go to the original methods and are not counted.
 * @param {{ timestamps: boolean, from: number, to: number }} options
 */
function instrumentWebGpu({ timestamps, from, to }) {
  const QUERIES_PER_SET = 512; // two per dispatch
  let step = 0;
  let device = null;
  const counts = {}; // per profiled steps, summed
  const totals = {}; // over the whole run
  const kernels = new Map(); // name -> { dispatches, workgroups, gpuNs, timedDispatches, code }
  const shaders = new WeakMap(); // GPUShaderModule -> WGSL
  const pipelineKernels = new WeakMap(); // GPUComputePipeline -> kernel name
  const passPipelines = new WeakMap(); // GPUComputePassEncoder -> its current pipeline
  const encoderQueries = new WeakMap(); // GPUCommandEncoder -> query sets in use
  const bufferQueries = new WeakMap(); // GPUCommandBuffer -> query sets to read
  const freeQuerySets = [];
  const pending = new Set();
  const timings = { apiMs: 0, readbackWaitMs: 0, submitToDoneMs: 0, submitsDone: 0 };
  // The GPU's clock over the profiled dispatches: first beginning, last end, and the idle time
  // between consecutive dispatches of one command buffer.
  const timeline = { firstNs: Infinity, lastNs: -Infinity, gapsInsideCommandBuffersNs: 0 };
  const requested = { features: [] };

  const profiling = () => step >= from && step < to;
  const count = (name, n = 1) => {
    totals[name] = (totals[name] ?? 0) + n;
    if (profiling()) counts[name] = (counts[name] ?? 0) + n;
  };
  const track = (promise) => {
    pending.add(promise);
    promise.finally(() => pending.delete(promise));
  };

  /** A short stable hash of a shader's code (FNV-1a, 32 bits). */
  const hash = (text) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return (h >>> 0).toString(16).padStart(8, '0').slice(0, 6);
  };
  /** cubecl's entry points are the kernel's name, its generics and a hash: `kernel_binop_c_f32_n_4_33e42f9d`.
   * The hash of the code is added only where two shaders share an entry point. */
  const codeHashes = new Map(); // entry point -> hash of its first code
  const kernelName = (code, entryPoint = 'main') => {
    const h = hash(code);
    if (!codeHashes.has(entryPoint)) codeHashes.set(entryPoint, h);
    return codeHashes.get(entryPoint) === h ? entryPoint : `${entryPoint}#${h}`;
  };
  const kernel = (name) => {
    if (!kernels.has(name)) kernels.set(name, { dispatches: 0, workgroups: 0, gpuNs: 0, timedDispatches: 0, code: '' });
    return kernels.get(name);
  };

  /** Replaces `proto[name]` by a wrapper that times the original call and then runs `after`.
   * Returns the original. */
  const wrap = (proto, name, after) => {
    const original = proto[name];
    proto[name] = function (...args) {
      const started = performance.now();
      const result = original.apply(this, args);
      if (profiling()) timings.apiMs += performance.now() - started;
      after?.call(this, args, result);
      return result;
    };
    return original;
  };

  // The device: add 'timestamp-query' to what the package asks for.
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (descriptor = {}) {
    requested.features = [...(descriptor.requiredFeatures ?? [])];
    const features = new Set(requested.features);
    if (timestamps && this.features.has('timestamp-query')) features.add('timestamp-query');
    device = await requestDevice.call(this, { ...descriptor, requiredFeatures: [...features] });
    return device;
  };

  // Kernels: a pipeline is named by its shader's entry point (see kernelName).
  wrap(GPUDevice.prototype, 'createShaderModule', function ([descriptor], module) {
    count('shaderModules');
    shaders.set(module, descriptor.code);
  });
  const namePipeline = (descriptor, pipeline) => {
    const code = shaders.get(descriptor.compute.module) ?? '';
    const name = kernelName(code, descriptor.compute.entryPoint);
    kernel(name).code = code;
    pipelineKernels.set(pipeline, name);
    count('computePipelines');
  };
  wrap(GPUDevice.prototype, 'createComputePipeline', function ([descriptor], pipeline) {
    namePipeline(descriptor, pipeline);
  });
  wrap(GPUDevice.prototype, 'createComputePipelineAsync', function ([descriptor], promise) {
    promise.then((pipeline) => namePipeline(descriptor, pipeline));
  });

  // Memory and transfers.
  const createBuffer = wrap(GPUDevice.prototype, 'createBuffer', function ([descriptor]) {
    count('buffersCreated');
    count('bufferBytesCreated', descriptor.size);
  });
  wrap(GPUBuffer.prototype, 'destroy', () => count('buffersDestroyed'));
  wrap(GPUQueue.prototype, 'writeBuffer', function ([, , data, dataOffset = 0, size]) {
    const unit = data.BYTES_PER_ELEMENT ?? 1;
    const length = data.length ?? data.byteLength;
    count('writeBuffer');
    count('writeBufferBytes', (size ?? length - dataOffset) * unit);
  });
  const copyBufferToBuffer = wrap(GPUCommandEncoder.prototype, 'copyBufferToBuffer', function (args) {
    // (source, sourceOffset, destination, destinationOffset, size) or (source, destination, size?)
    const size = typeof args[1] === 'number' ? args[4] : (args[2] ?? args[0].size);
    count('copyBufferToBuffer');
    count('copyBufferToBufferBytes', size);
  });
  const mapAsync = GPUBuffer.prototype.mapAsync;
  GPUBuffer.prototype.mapAsync = function (mode, offset = 0, size) {
    const counted = profiling();
    count('mapAsync');
    count('mapAsyncBytes', size ?? this.size - offset);
    const started = performance.now();
    const promise = mapAsync.call(this, mode, offset, size);
    promise.finally(() => {
      if (counted) timings.readbackWaitMs += performance.now() - started;
    });
    return promise;
  };
  wrap(GPUDevice.prototype, 'createBindGroup', () => count('bindGroups'));
  wrap(GPUDevice.prototype, 'pushErrorScope', () => count('errorScopes'));
  const createQuerySet = wrap(GPUDevice.prototype, 'createQuerySet', () => count('querySets'));
  const onSubmittedWorkDone = wrap(GPUQueue.prototype, 'onSubmittedWorkDone', () => count('onSubmittedWorkDone'));

  // Commands.
  wrap(GPUDevice.prototype, 'createCommandEncoder', () => count('commandEncoders'));
  wrap(GPUComputePassEncoder.prototype, 'setPipeline', function ([pipeline]) {
    passPipelines.set(this, pipeline);
  });
  const countDispatch = (pass, workgroups) => {
    count('dispatches');
    if (!profiling()) return;
    const k = kernel(pipelineKernels.get(passPipelines.get(pass)) ?? 'unknown');
    k.dispatches += 1;
    k.workgroups += workgroups;
  };
  wrap(GPUComputePassEncoder.prototype, 'dispatchWorkgroups', function ([x, y = 1, z = 1]) {
    countDispatch(this, x * y * z);
  });
  wrap(GPUComputePassEncoder.prototype, 'dispatchWorkgroupsIndirect', function () {
    count('dispatchesIndirect');
    countDispatch(this, 0);
  });

  // Timestamps: query sets, each with its resolve and read-back buffers, reused once read.
  const takeQuerySet = () =>
    freeQuerySets.pop() ?? {
      querySet: createQuerySet.call(device, { type: 'timestamp', count: QUERIES_PER_SET }),
      resolve: createBuffer.call(device, { size: QUERIES_PER_SET * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
      read: createBuffer.call(device, { size: QUERIES_PER_SET * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
      dispatches: [], // { kernel, profiled } per pair of queries
    };
  const beginComputePass = GPUCommandEncoder.prototype.beginComputePass;

  /** Stands in for a compute pass: replays each dispatch into a timed pass of its own. */
  class TimedPass {
    constructor(encoder, descriptor) {
      this.encoder = encoder;
      this.descriptor = descriptor ?? {};
      this.label = this.descriptor.label ?? '';
      this.pipeline = null;
      this.bindGroups = new Map();
    }
    setPipeline(pipeline) {
      this.pipeline = pipeline;
    }
    setBindGroup(index, group, offsets, start, length) {
      // Dynamic offsets may be a view into wasm memory: copy them now.
      const copy = offsets && start !== undefined ? Array.from(offsets.subarray(start, start + length)) : offsets;
      this.bindGroups.set(index, copy ? [group, copy] : [group]);
    }
    dispatchWorkgroups(...args) {
      this.replay('dispatchWorkgroups', args);
    }
    dispatchWorkgroupsIndirect(...args) {
      this.replay('dispatchWorkgroupsIndirect', args);
    }
    replay(method, args) {
      const sets = encoderQueries.get(this.encoder) ?? [];
      encoderQueries.set(this.encoder, sets);
      if (!sets.length || sets.at(-1).dispatches.length * 2 === QUERIES_PER_SET) sets.push(takeQuerySet());
      const set = sets.at(-1);
      const index = set.dispatches.length * 2;
      const pass = beginComputePass.call(this.encoder, {
        ...this.descriptor,
        timestampWrites: { querySet: set.querySet, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 },
      });
      pass.setPipeline(this.pipeline);
      for (const [i, groupArgs] of this.bindGroups) pass.setBindGroup(i, ...groupArgs);
      pass[method](...args);
      pass.end();
      set.dispatches.push({ kernel: pipelineKernels.get(this.pipeline) ?? 'unknown', profiled: profiling() });
    }
    end() {}
    pushDebugGroup() {}
    popDebugGroup() {}
    insertDebugMarker() {}
  }

  GPUCommandEncoder.prototype.beginComputePass = function (descriptor) {
    count('computePasses');
    const timed = timestamps && device?.features.has('timestamp-query') && !descriptor?.timestampWrites;
    return timed ? new TimedPass(this, descriptor) : beginComputePass.call(this, descriptor);
  };
  const resolveQuerySet = GPUCommandEncoder.prototype.resolveQuerySet;
  const finish = GPUCommandEncoder.prototype.finish;
  GPUCommandEncoder.prototype.finish = function (descriptor) {
    const sets = encoderQueries.get(this) ?? [];
    for (const set of sets) {
      const queries = set.dispatches.length * 2;
      resolveQuerySet.call(this, set.querySet, 0, queries, set.resolve, 0);
      copyBufferToBuffer.call(this, set.resolve, 0, set.read, 0, queries * 8);
    }
    const commandBuffer = finish.call(this, descriptor);
    if (sets.length) bufferQueries.set(commandBuffer, sets);
    return commandBuffer;
  };

  /** Reads a query set's timestamps once its submit is done, and frees it. */
  const readQuerySet = async (set) => {
    const queries = set.dispatches.length * 2;
    await mapAsync.call(set.read, GPUMapMode.READ, 0, queries * 8);
    const times = new BigInt64Array(set.read.getMappedRange(0, queries * 8));
    set.dispatches.forEach(({ kernel: name, profiled }, i) => {
      if (!profiled) return;
      const [begin, end] = [Number(times[2 * i]), Number(times[2 * i + 1])];
      const k = kernel(name);
      k.gpuNs += end - begin;
      k.timedDispatches += 1;
      timeline.firstNs = Math.min(timeline.firstNs, begin);
      timeline.lastNs = Math.max(timeline.lastNs, end);
      if (i > 0 && set.dispatches[i - 1].profiled) timeline.gapsInsideCommandBuffersNs += begin - Number(times[2 * i - 1]);
    });
    set.read.unmap();
    set.dispatches = [];
    freeQuerySets.push(set);
  };

  const submit = GPUQueue.prototype.submit;
  GPUQueue.prototype.submit = function (commandBuffers) {
    const counted = profiling();
    count('submits');
    count('commandBuffers', commandBuffers.length);
    const started = performance.now();
    const result = submit.call(this, commandBuffers);
    if (counted) timings.apiMs += performance.now() - started;
    for (const commandBuffer of commandBuffers) for (const set of bufferQueries.get(commandBuffer) ?? []) track(readQuerySet(set));
    if (counted) {
      track(
        onSubmittedWorkDone.call(this).then(() => {
          timings.submitToDoneMs += performance.now() - started;
          timings.submitsDone += 1;
        }),
      );
    }
    return result;
  };

  globalThis.webgpuProfile = {
    /** Step `n` has been reported: later calls count for step n + 1. */
    setStep(n) {
      step = n;
    },
    /** Waits for every timestamp read-back and submit still in flight. */
    async settle() {
      while (pending.size) await Promise.all([...pending]);
    },
    report() {
      return {
        requestedFeatures: requested.features,
        deviceFeatures: device ? [...device.features] : [],
        timestamps: Boolean(timestamps && device?.features.has('timestamp-query')),
        counts,
        totals,
        timings,
        gpuSpanNs: timeline.lastNs - timeline.firstNs,
        gapsInsideCommandBuffersNs: timeline.gapsInsideCommandBuffersNs,
        kernels: [...kernels].filter(([, k]) => k.dispatches > 0).map(([name, k]) => ({ name, ...k })),
      };
    },
  };
}

/**
 * Runs in the page: trains `warmup + steps` steps on WebGPU from the first MNIST batches and
 * reports the wall time per step over the last `steps`, the losses read back, and the profile
 * when the page is instrumented.
 */
async function train({ warmup, steps, batchSize, readEvery, mnist }) {
  const { default: init, LeNet } = await import('/pkg/lenet_web.js');
  await init();
  const lenet = await LeNet.create('webgpu');
  await lenet.loadMnist({ trainImages: mnist.trainImages, trainLabels: mnist.trainLabels });
  const profile = globalThis.webgpuProfile;
  const stepEnds = [];
  const losses = [];
  await lenet.train({
    batchSize,
    readEvery,
    limit: (warmup + steps) * batchSize,
    evaluateEachEpoch: false,
    onStep: (p) => {
      stepEnds.push(performance.now());
      if (p.loss !== undefined) losses.push({ step: p.step, loss: p.loss });
      profile?.setStep(p.step);
    },
  });
  await profile?.settle();
  return {
    backend: lenet.backend,
    msPerStep: (stepEnds[warmup + steps - 1] - stepEnds[warmup - 1]) / steps,
    losses,
    profile: profile?.report() ?? null,
  };
}

/** One run in a fresh browser, instrumented or not. */
async function run(instrumented) {
  const browser = await launchBrowser({ webgpu: true, flags: EXTRA_FLAGS });
  const server = await startServer();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
    });
    // A blank page on the server's origin: the demo page would start a worker of its own.
    await page.route(`${server.url}profile.html`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>profile</title>' }));
    if (instrumented) await page.addInitScript(instrumentWebGpu, { timestamps: TIMESTAMPS, from: WARMUP, to: WARMUP + STEPS });
    await page.goto(`${server.url}profile.html`);
    const result = await page.evaluate(train, { warmup: WARMUP, steps: STEPS, batchSize: BATCH_SIZE, readEvery: READ_EVERY, mnist: MNIST_PATHS });
    return { ...result, consoleMessages: errors };
  } finally {
    await browser.close();
    server.close();
  }
}

/** A kernel's family: its entry point without generics and hash (`kernel_binop`, `matmul_entry`). */
const family = (name) => name.replace(/#.*$/, '').replace(/_[0-9a-f]{8}$/, '').replace(/_[a-z]+_(f32|f16|i32|u32|bool)(_.*)?$/, '');

/**
 * What an element-wise kernel stores, read from its WGSL: the expression of its last store into
 * a storage array, its storage operands named a, b, … and other values (scalars, constants) s.
 * E.g. `a + b`, `a * s`, `sqrt(a)`. Empty when the expression is not short.
 */
function storedExpression(code) {
  const defs = new Map([...code.matchAll(/^let (v\d+) = (.+);$/gm)].map((m) => [m[1], m[2]]));
  const isElement = (v) => /^&\(\*v\d+\)\[/.test(defs.get(v) ?? '');
  const store = [...code.matchAll(/^\*(v\d+) = (v\d+);$/gm)].filter(([, target]) => isElement(target)).at(-1);
  if (!store) return '';
  const arrays = [];
  const render = (v, depth) => {
    const rhs = defs.get(v);
    const load = rhs?.match(/^\*(v\d+)$/);
    if (load && isElement(load[1])) {
      const array = defs.get(load[1]).match(/^&\(\*(v\d+)\)/)[1];
      if (!arrays.includes(array)) arrays.push(array);
      return 'abcdefgh'[arrays.indexOf(array)];
    }
    if (rhs === undefined || depth > 4 || !/v\d+/.test(rhs)) return 's';
    const inner = rhs.match(/^vec\d<\w+>\((v\d+)\)$/) ?? rhs.match(/^(v\d+)$/);
    if (inner) return render(inner[1], depth);
    const expression = rhs.replace(/v\d+/g, (w) => render(w, depth + 1));
    return depth > 0 && / /.test(expression) && !/^\w+\(.*\)$/.test(expression) ? `(${expression})` : expression;
  };
  const expression = render(store[2], 0);
  const short = code.split('\n').length < 120 && expression.length <= 40 && /^[\w ()+\-*/<>=!,.]+$/.test(expression);
  return short ? expression : '';
}

if (WARMUP % READ_EVERY || STEPS % READ_EVERY) console.warn('warning: the profiled steps do not start and end on read-backs; wall times will not be per step');
/** The counters the instrumentation keeps, in the order printed. */
const COUNTERS = [
  'dispatches',
  'dispatchesIndirect',
  'computePipelines',
  'shaderModules',
  'bindGroups',
  'commandEncoders',
  'computePasses',
  'submits',
  'commandBuffers',
  'buffersCreated',
  'bufferBytesCreated',
  'buffersDestroyed',
  'writeBuffer',
  'writeBufferBytes',
  'copyBufferToBuffer',
  'copyBufferToBufferBytes',
  'mapAsync',
  'mapAsyncBytes',
  'onSubmittedWorkDone',
  'errorScopes',
  'querySets',
];

const plain = await run(false);
const profiled = await run(true);
const { profile } = profiled;
const perStep = (x) => x / STEPS;
const totalGpuNs = profile.kernels.reduce((sum, k) => sum + k.gpuNs, 0);
const kernels = profile.kernels
  .map(({ code, ...k }) => ({
    ...k,
    family: family(k.name),
    stores: storedExpression(code),
    dispatchesPerStep: perStep(k.dispatches),
    msPerStep: profile.timestamps ? perStep(k.gpuNs) / 1e6 : null,
    msPerDispatch: k.timedDispatches ? k.gpuNs / k.timedDispatches / 1e6 : null,
    workgroupsPerDispatch: k.workgroups / k.dispatches,
    share: totalGpuNs ? k.gpuNs / totalGpuNs : null,
  }))
  .sort((a, b) => b.gpuNs - a.gpuNs || b.dispatches - a.dispatches);
const byFamily = new Map();
for (const k of kernels) {
  const f = byFamily.get(k.family) ?? {
    family: k.family,
    kernels: 0,
    dispatchesPerStep: 0,
    msPerStep: profile.timestamps ? 0 : null,
    share: totalGpuNs ? 0 : null,
  };
  f.kernels += 1;
  f.dispatchesPerStep += k.dispatchesPerStep;
  if (profile.timestamps) f.msPerStep += k.msPerStep;
  if (totalGpuNs) f.share += k.share;
  byFamily.set(k.family, f);
}
const families = [...byFamily.values()].sort((a, b) => b.msPerStep - a.msPerStep || b.dispatchesPerStep - a.dispatchesPerStep);

const wallMs = profiled.msPerStep;
const kernelMs = perStep(totalGpuNs) / 1e6;
const summary = {
  steps: STEPS,
  warmup: WARMUP,
  batchSize: BATCH_SIZE,
  readEvery: READ_EVERY,
  chromiumFlags: EXTRA_FLAGS,
  timestamps: profile.timestamps,
  plainMsPerStep: plain.msPerStep,
  plainStepsPerSecond: 1000 / plain.msPerStep,
  profiledMsPerStep: wallMs,
  profiledStepsPerSecond: 1000 / wallMs,
  kernelMsPerStep: profile.timestamps ? kernelMs : null,
  kernelShareOfWall: profile.timestamps ? kernelMs / wallMs : null,
  gpuSpanMsPerStep: profile.timestamps ? perStep(profile.gpuSpanNs) / 1e6 : null,
  gapsInsideCommandBuffersMsPerStep: profile.timestamps ? perStep(profile.gapsInsideCommandBuffersNs) / 1e6 : null,
  webgpuCallsMsPerStep: perStep(profile.timings.apiMs),
  readbackWaitMsPerStep: perStep(profile.timings.readbackWaitMs),
  submitToDoneMsMean: profile.timings.submitToDoneMs / profile.timings.submitsDone,
  countsPerStep: Object.fromEntries(Object.entries(profile.counts).map(([name, n]) => [name, perStep(n)])),
  totals: profile.totals,
  distinctKernelsDispatched: kernels.length,
  losses: { plain: plain.losses, profiled: profiled.losses },
};

// The instrumentation must not change what is computed: the same losses, and falling (from the
// loss of an untrained 10-class model, ln 10, when only one is read back).
const first = (losses) => (losses.length > 1 ? losses[0].loss : Math.log(10));
const lossesMatch =
  plain.losses.length === profiled.losses.length && plain.losses.every((l, i) => Math.abs(l.loss - profiled.losses[i].loss) <= 1e-3 * Math.abs(l.loss));
const lossFalls = profiled.losses.length > 0 && profiled.losses.at(-1).loss < first(profiled.losses);
summary.lossCheck = { lossesMatch, lossFalls };
if (!lossesMatch || !lossFalls) process.exitCode = 1;

const shaderDir = `${OUT}/webgpu-shaders`;
rmSync(shaderDir, { recursive: true, force: true });
mkdirSync(shaderDir, { recursive: true });
for (const k of profile.kernels) writeFileSync(`${shaderDir}/${k.name.replace('#', '.')}.wgsl`, k.code);
writeFileSync(
  `${OUT}/webgpu-profile.json`,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      summary,
      families,
      kernels,
      requestedFeatures: profile.requestedFeatures,
      consoleMessages: { plain: plain.consoleMessages, profiled: profiled.consoleMessages },
    },
    null,
    2,
  ),
);

const count = (n = 0) => n.toLocaleString('en', { maximumFractionDigits: 1 });
const ms = (x, digits = 1) => (x === null ? 'n/a' : x.toFixed(digits));
const percent = (x) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const ofWall = (x) => percent(x === null ? null : x / wallMs);
const TOP = Number(process.env.PROFILE_TOP ?? 30);
console.log(
  [
    `WebGPU training step, batch ${BATCH_SIZE}: ${STEPS} steps profiled after ${WARMUP}, loss read back every ${READ_EVERY}; ` +
      `timestamps: ${profile.timestamps ? `yes (flags: ${EXTRA_FLAGS.join(' ') || 'none'})` : 'no: kernel times n/a'}`,
    '',
    '| kernel | stores | dispatches / step | ms / step | ms / dispatch | workgroups / dispatch | share |',
    '|---|---|---|---|---|---|---|',
    ...kernels
      .slice(0, TOP)
      .map((k) => `| ${k.name} | ${k.stores} | ${ms(k.dispatchesPerStep)} | ${ms(k.msPerStep)} | ${ms(k.msPerDispatch, 2)} | ${Math.round(k.workgroupsPerDispatch)} | ${percent(k.share)} |`),
    ...(kernels.length > TOP ? [`(${kernels.length - TOP} more kernels in target/bench/webgpu-profile.json)`] : []),
    '',
    '| kernel family | kernels | dispatches / step | ms / step | share |',
    '|---|---|---|---|---|',
    ...families.map((f) => `| ${f.family} | ${f.kernels} | ${ms(f.dispatchesPerStep)} | ${ms(f.msPerStep)} | ${percent(f.share)} |`),
    '',
    '| WebGPU calls | per profiled step | whole run |',
    '|---|---|---|',
    ...COUNTERS.map((name) => `| ${name} | ${count(summary.countsPerStep[name])} | ${count(profile.totals[name])} |`),
    '',
    '| time per step | ms | share of the step |',
    '|---|---|---|',
    `| wall, instrumented | ${ms(wallMs)} | 100% |`,
    `| kernels (GPU timestamps, summed) | ${ms(summary.kernelMsPerStep)} | ${ofWall(summary.kernelMsPerStep)} |`,
    `| GPU clock from first to last profiled dispatch | ${ms(summary.gpuSpanMsPerStep)} | ${ofWall(summary.gpuSpanMsPerStep)} |`,
    `| GPU idle between dispatches of one command buffer | ${ms(summary.gapsInsideCommandBuffersMsPerStep)} | ${ofWall(summary.gapsInsideCommandBuffersMsPerStep)} |`,
    `| page thread inside WebGPU calls | ${ms(summary.webgpuCallsMsPerStep)} | ${ofWall(summary.webgpuCallsMsPerStep)} |`,
    `| page waiting for read-backs (mapAsync) | ${ms(summary.readbackWaitMsPerStep)} | ${ofWall(summary.readbackWaitMsPerStep)} |`,
    `| page busy (wall − waiting: wasm, JS glue, WebGPU calls) | ${ms(wallMs - summary.readbackWaitMsPerStep)} | ${ofWall(wallMs - summary.readbackWaitMsPerStep)} |`,
    `| submit → work done, mean per submit | ${ms(summary.submitToDoneMsMean)} | |`,
    '',
    `steps / s: ${summary.plainStepsPerSecond.toFixed(3)} plain, ${summary.profiledStepsPerSecond.toFixed(3)} instrumented (one run each)`,
    `losses read back (step: plain / instrumented): ${plain.losses.map((l, i) => `${l.step}: ${l.loss.toFixed(4)} / ${profiled.losses[i]?.loss.toFixed(4)}`).join(', ')}; ` +
      `${lossesMatch ? 'the same' : 'DIFFERENT'}, ${lossFalls ? 'falling' : 'NOT FALLING'}`,
    `written: target/bench/webgpu-profile.json, target/bench/webgpu-shaders/ (${profile.kernels.length} shaders)`,
  ].join('\n'),
);
