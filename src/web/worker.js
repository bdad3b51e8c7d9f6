// The package's own Web Worker (`LeNet.create({ worker: true })`): one LeNet-5 on this thread,
// driven by remote.js on the app's thread. It runs each call it is sent, and forwards what the
// package calls back (`onStep`, `onEpoch`, `onProgress`, `onDeviceLost`) to the app's
// functions, waiting for the promises they return; an app's `AbortSignal` aborts here too.
// The package's rules stay in the package: this only converts and forwards.

import init, { LeNet } from './lenet_web.js';
import { decodeError, encodeError } from './browser.js';

const ready = init();
/** @type {LeNet | null} */
let lenet = null;
/** The app's signals seen so far, by id. */
const signals = new Map();
/** Callbacks waiting for the app: resolvers by call id. */
const waiting = new Map();
let nextCall = 0;

/** An app's function, called over there; resolves when its returned promise does. */
function remoteCallback(id) {
  return (arg) =>
    new Promise((resolve, reject) => {
      const call = nextCall++;
      waiting.set(call, { resolve, reject });
      postMessage({ op: 'callback', call, callback: id, arg, state: state() });
    });
}

/** Arguments as remote.js encoded them, with functions and signals made live again. */
function decodeArgs(args) {
  return args.map((arg) => {
    if (!arg || typeof arg !== 'object' || Object.getPrototypeOf(arg) !== Object.prototype) return arg;
    const out = {};
    for (const [key, value] of Object.entries(arg)) {
      if (value && typeof value === 'object' && '__lenetCallback' in value) out[key] = remoteCallback(value.__lenetCallback);
      else if (value && typeof value === 'object' && '__lenetSignal' in value) out[key] = signal(value.__lenetSignal).signal;
      else out[key] = value;
    }
    return out;
  });
}

function signal(id) {
  if (!signals.has(id)) signals.set(id, new AbortController());
  return signals.get(id);
}

/** What the app's thread mirrors of the model after every call and with every callback (the
 * backend changes when the GPU device is lost). */
function state() {
  return lenet && { backend: lenet.backend, fallbackReason: lenet.fallbackReason, calibration: lenet.calibration };
}

async function run({ op, method, args }) {
  await ready;
  if (op === 'start') {
    lenet = await LeNet[method](...decodeArgs(args));
    return undefined;
  }
  return lenet[method](...decodeArgs(args));
}

// `save('downloads://...')` needs a page: the file goes to the app's thread to be offered there.
globalThis.lenetOfferDownload = (bytes, fileName) => postMessage({ op: 'download', bytes, fileName });

onmessage = async ({ data }) => {
  if (data.op === 'callback-done') {
    const { resolve, reject } = waiting.get(data.call);
    waiting.delete(data.call);
    if (data.ok) resolve();
    else reject(decodeError(data.error));
    return;
  }
  if (data.op === 'abort') {
    signal(data.signal).abort(data.reason);
    return;
  }
  try {
    const value = await run(data);
    postMessage({ id: data.id, ok: true, value, state: state() });
  } catch (e) {
    postMessage({ id: data.id, ok: false, error: encodeError(e), state: state() });
  }
};
