// The browser APIs the package uses that are event- or DOM-shaped, each wrapped in a promise or
// a plain call for the Rust side (src/web/), which holds the rules: what is stored under which
// name, and when. Works in a page and in a Web Worker.

const DB_NAME = 'lenet-web-models';
/** Object stores: saved models (by name), and what the package remembers (by key). */
const MODELS = 'models';
const MEMORY = 'memory';

function openDb() {
  return new Promise((resolve, reject) => {
    if (!globalThis.indexedDB) {
      reject(new Error('this browser offers no IndexedDB (a private window may turn it off)'));
      return;
    }
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(MODELS);
      request.result.createObjectStore(MEMORY);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('IndexedDB is blocked by another tab of this page'));
  });
}

/** Runs `makeRequest(store)` on `storeName` and resolves to its result once the transaction
 * commits (so a put has reached the disk, or the quota error comes back). */
async function withStore(storeName, mode, makeRequest) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(storeName, mode);
      const request = makeRequest(tx.objectStore(storeName));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('the browser refused to store it'));
    });
  } finally {
    db.close();
  }
}

export function storePut(storeName, key, value) {
  return withStore(storeName, 'readwrite', (store) => store.put(value, key));
}

export function storeGet(storeName, key) {
  return withStore(storeName, 'readonly', (store) => store.get(key));
}

export function storeDelete(storeName, key) {
  return withStore(storeName, 'readwrite', (store) => store.delete(key));
}

/** Every key of `storeName` with its value (for listing saved models). */
export async function storeEntries(storeName) {
  const [keys, values] = await Promise.all([
    withStore(storeName, 'readonly', (store) => store.getAllKeys()),
    withStore(storeName, 'readonly', (store) => store.getAll()),
  ]);
  return keys.map((key, i) => [key, values[i]]);
}

export const STORES = { models: MODELS, memory: MEMORY };

/** Offers `bytes` as a file download named `fileName`: in a page, or from the package's own
 * worker through the page that runs it (worker.js). */
export function offerDownload(bytes, fileName) {
  if (!globalThis.document && globalThis.lenetOfferDownload) {
    globalThis.lenetOfferDownload(bytes.slice(), fileName);
    return;
  }
  if (!globalThis.document) throw new Error('downloads:// needs a page (a Web Worker cannot offer a download)');
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The RGBA pixels of an image that a 2d canvas can draw (`ImageBitmap`, `HTMLImageElement`,
 * `SVGImageElement`, `VideoFrame`, ...), as an `ImageData`. */
export function imageDataOf(source, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(source, 0, 0, width, height);
  return context.getImageData(0, 0, width, height);
}

/** Calls `onLost(message)` (when given) when a GPU device asked for from now on is lost (a
 * driver reset, a GPU taken away, the browser reclaiming it). burn asks the adapter for its
 * device itself, so the package watches the adapter's `requestDevice`. */
const lostListeners = new Set();
let watching = false;
export function watchGpuDevices(onLost) {
  if (onLost) lostListeners.add(onLost);
  const adapter = globalThis.GPUAdapter?.prototype;
  if (watching || !adapter) return;
  watching = true;
  const requestDevice = adapter.requestDevice;
  adapter.requestDevice = async function (...args) {
    const device = await requestDevice.apply(this, args);
    device.lost.then((info) => {
      const message = info.message || info.reason || 'no reason given';
      for (const listener of lostListeners) listener(message);
    });
    return device;
  };
}

export function unwatchGpuDevices(onLost) {
  lostListeners.delete(onLost);
}

// What crosses between remote.js (an app's thread) and worker.js (the package's worker) besides
// plain values: errors, which keep their name (`DatasetError`, `AbortError`, ...) and message.

export function encodeError(e) {
  if (e && typeof e === 'object' && 'message' in e) return { name: e.name ?? 'Error', message: e.message };
  return { name: 'Error', message: String(e) };
}

export function decodeError({ name, message }) {
  const error = new Error(message);
  error.name = name;
  return error;
}
