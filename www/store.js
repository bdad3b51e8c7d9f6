// The saved training run in IndexedDB: the latest checkpoint with its charts, so a reload can
// go on where training stopped; and what the package's "auto" measured, so a reload chooses
// the backend at once.

const DB_NAME = 'lenet-web';
const STORE = 'runs';
const KEY = 'latest';
const CALIBRATION_KEY = 'calibration';

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Runs one request on the store and resolves to its result once the transaction commits. */
async function withStore(mode, makeRequest) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = makeRequest(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('the browser refused to save the run'));
    });
  } finally {
    db.close();
  }
}

/**
 * Saves the run, replacing the one saved before.
 * @param {{checkpoint: Uint8Array, history: object, results: object, savedAt: number}} run
 */
export function saveRun(run) {
  return withStore('readwrite', (store) => store.put(run, KEY));
}

/** The saved run, or undefined. */
export function loadRun() {
  return withStore('readonly', (store) => store.get(KEY));
}

/** Deletes the saved run. */
export function forgetRun() {
  return withStore('readwrite', (store) => store.delete(KEY));
}

/** Keeps what "auto" measured (`lenet.calibration`). */
export function saveCalibration(calibration) {
  return withStore('readwrite', (store) => store.put(calibration, CALIBRATION_KEY));
}

/** What "auto" measured before, or undefined. */
export function loadCalibration() {
  return withStore('readonly', (store) => store.get(CALIBRATION_KEY));
}
