// `LeNet.create({ worker: true })`: the same API as `LeNet`, with the model in the package's own
// module Web Worker (worker.js), so an app's thread never waits on training. Each method posts
// its call there; functions in an options object (`onStep`, ...) are called here when the
// worker calls them, and training waits for the promises they return; an `AbortSignal` aborts
// over there too. Drawings that cannot cross to a worker (a canvas, an <img>) cross as pixels,
// also inside an array of examples.

import { decodeError, encodeError, offerDownload } from './browser.js';

/** The methods of `LeNet` that RemoteLeNet forwards. */
const METHODS = [
  'setBackend', 'loadMnist', 'loadTrainingSet', 'loadTestSet', 'testImage', 'train', 'resume', 'evaluate',
  'predict', 'predictBatch', 'predictImage', 'saveCheckpoint', 'save', 'loadCheckpoint',
  'addExamples', 'examples', 'removeExample', 'clearExamples', 'fineTune', 'undoFineTune',
  'activations', 'filters', 'modelInUse',
];

export class RemoteLeNet {
  #worker;
  #calls = new Map();
  #callbacks = new Map();
  #signals = new WeakMap();
  /** The callbacks each call sent, let go of when it settles (those of `start` live on). */
  #callbacksOf = new Map();
  #nextId = 0;
  #state = {};
  #freed = false;

  /** A model in a new worker, as `LeNet[start](...args)` (`create` or `load`) makes it. */
  static async start(start, args) {
    const remote = new RemoteLeNet();
    try {
      await remote.#call('start', start, args);
    } catch (e) {
      remote.free();
      throw e;
    }
    return remote;
  }

  constructor() {
    this.#worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'lenet-web' });
    this.#worker.onmessage = ({ data }) => this.#receive(data);
    this.#worker.onerror = (e) => {
      const error = new Error(`the package's worker failed: ${e.message || 'it could not start'}`);
      for (const { reject } of this.#calls.values()) reject(error);
      this.#calls.clear();
    };
  }

  get backend() {
    return this.#state.backend;
  }

  get fallbackReason() {
    return this.#state.fallbackReason;
  }

  get calibration() {
    return this.#state.calibration;
  }

  /** Ends the worker (and the model in it); later calls reject. */
  free() {
    this.#freed = true;
    this.#worker.terminate();
    const error = new Error('the model was freed');
    for (const { reject } of this.#calls.values()) reject(error);
    this.#calls.clear();
  }

  [Symbol.dispose]() {
    this.free();
  }

  #receive(data) {
    if (data.op === 'callback') {
      if (data.state) this.#state = data.state;
      this.#runCallback(data);
      return;
    }
    if (data.op === 'download') {
      offerDownload(data.bytes, data.fileName);
      return;
    }
    const call = this.#calls.get(data.id);
    if (!call) return;
    this.#calls.delete(data.id);
    if (data.state) this.#state = data.state;
    if (!call.keep) for (const id of this.#callbacksOf.get(data.id) ?? []) this.#callbacks.delete(id);
    this.#callbacksOf.delete(data.id);
    if (data.ok) call.resolve(data.value);
    else call.reject(decodeError(data.error));
  }

  async #runCallback({ call, callback, arg }) {
    try {
      await this.#callbacks.get(callback)?.(arg);
      this.#worker.postMessage({ op: 'callback-done', call, ok: true });
    } catch (e) {
      this.#worker.postMessage({ op: 'callback-done', call, ok: false, error: encodeError(e) });
    }
  }

  async #call(op, method, args) {
    if (this.#freed) throw new Error('the model was freed');
    const callbacks = [];
    const encoded = await Promise.all(args.map((arg) => this.#encode(arg, callbacks)));
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      this.#calls.set(id, { resolve, reject, keep: op === 'start' });
      this.#callbacksOf.set(id, callbacks);
      this.#worker.postMessage({ id, op, method, args: encoded });
    });
  }

  /** An argument as it can cross: an options object's functions and signals by id, a canvas or
   * an <img> as its pixels (in an array of `{ image, label }` too). */
  async #encode(arg, callbacks) {
    if (Array.isArray(arg)) {
      return Promise.all(arg.map(async (item) => (item?.image ? { ...item, image: await this.#encode(item.image, []) } : item)));
    }
    if (globalThis.HTMLCanvasElement && arg instanceof HTMLCanvasElement) {
      return arg.getContext('2d').getImageData(0, 0, arg.width, arg.height);
    }
    if (globalThis.OffscreenCanvas && arg instanceof OffscreenCanvas) {
      return arg.getContext('2d').getImageData(0, 0, arg.width, arg.height);
    }
    if (globalThis.HTMLImageElement && arg instanceof HTMLImageElement && arg.complete && arg.naturalWidth) {
      return createImageBitmap(arg);
    }
    if (!arg || typeof arg !== 'object' || Object.getPrototypeOf(arg) !== Object.prototype) return arg;
    const out = {};
    for (const [key, value] of Object.entries(arg)) {
      if (typeof value === 'function') {
        const id = this.#nextId++;
        this.#callbacks.set(id, value);
        callbacks.push(id);
        out[key] = { __lenetCallback: id };
      } else if (globalThis.AbortSignal && value instanceof AbortSignal) {
        out[key] = { __lenetSignal: this.#signalId(value) };
      } else {
        out[key] = value;
      }
    }
    return out;
  }

  /** The id of `signal` over there; its abort is sent on. */
  #signalId(signal) {
    if (!this.#signals.has(signal)) {
      const id = this.#nextId++;
      this.#signals.set(signal, id);
      const send = () => this.#worker.postMessage({ op: 'abort', signal: id, reason: signal.reason });
      if (signal.aborted) queueMicrotask(send);
      else signal.addEventListener('abort', send, { once: true });
    }
    return this.#signals.get(signal);
  }

  static {
    for (const method of METHODS) {
      RemoteLeNet.prototype[method] = function (...args) {
        return this.#call('call', method, args);
      };
    }
  }
}
