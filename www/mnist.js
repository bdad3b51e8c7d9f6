// Downloads the four MNIST files from the page's own origin, with progress, and un-gzips them.
// The gzipped files are kept with the Cache API, so a second visit does not download them again.

/** Name of the Cache API cache holding the gzipped files. */
export const MNIST_CACHE = 'lenet-web-mnist-v1';

/** The gzipped IDX files, served from the page's origin under data/ (resolved against this
 * module, so the same URLs work from the page and from the worker). */
export const MNIST_FILES = Object.fromEntries(
  Object.entries({
    trainImages: 'train-images-idx3-ubyte.gz',
    trainLabels: 'train-labels-idx1-ubyte.gz',
    testImages: 't10k-images-idx3-ubyte.gz',
    testLabels: 't10k-labels-idx1-ubyte.gz',
  }).map(([key, file]) => [key, new URL(`../data/${file}`, import.meta.url).href]),
);

/** Tries per file: a failed connection, a server error or a download cut off midway is tried
 * again, after 1 s and then 2 s; a missing file (4xx) is not. */
const DOWNLOAD_TRIES = 3;

/**
 * Fetches every MNIST file (from the cache when it holds them) and returns their un-gzipped
 * bytes, keyed as in MNIST_FILES, and whether they all came from the cache.
 * @param {(loaded: number, total: number) => void} onProgress compressed bytes so far / in all
 * @returns {Promise<{files: Record<keyof MNIST_FILES, Uint8Array>, cached: boolean}>}
 */
export async function downloadMnist(onProgress) {
  const cache = globalThis.caches ? await caches.open(MNIST_CACHE).catch(() => null) : null;
  // The first file that fails stops the others.
  const stop = new AbortController();
  const progress = { loaded: 0, total: 0 };
  const count = (loaded, total = 0) => {
    progress.loaded += loaded;
    progress.total += total;
    if (!stop.signal.aborted) onProgress(progress.loaded, progress.total);
  };
  const files = await Promise.all(
    Object.entries(MNIST_FILES).map(async ([key, url]) => {
      const cached = await cache?.match(url);
      const gzipped = cached ? await readAll(cached, count) : await download(url, count, stop.signal);
      const bytes = await gunzip(gzipped, url);
      // Only a file that downloaded and un-gzipped in full is kept.
      if (!cached) {
        const headers = { 'Content-Type': 'application/gzip', 'Content-Length': String(gzipped.size) };
        await cache?.put(url, new Response(gzipped, { headers })).catch(() => {});
      }
      return [key, bytes, Boolean(cached)];
    }),
  ).catch((e) => {
    stop.abort();
    throw e;
  });
  return {
    files: Object.fromEntries(files.map(([key, bytes]) => [key, bytes])),
    cached: files.every(([, , cached]) => cached),
  };
}

/**
 * Downloads `url`, trying again when that may help, until `signal` aborts.
 * @param {string} url
 * @param {(loaded: number, total?: number) => void} count
 * @param {AbortSignal} signal
 */
async function download(url, count, signal) {
  for (let tries = 1; ; tries++) {
    let worthRetrying = true;
    try {
      const response = await fetch(url, { signal });
      if (!response.ok) {
        // Server errors, timeouts and "too many requests" pass; a missing file stays missing.
        worthRetrying = response.status >= 500 || response.status === 408 || response.status === 429;
        throw new Error(`the server answered ${response.status} ${response.statusText}`.trim());
      }
      return await readAll(response, count);
    } catch (e) {
      if (signal.aborted) throw e;
      if (!worthRetrying || tries === DOWNLOAD_TRIES) {
        throw new Error(`Could not download ${url}: ${e.message}${tries > 1 ? ` (tried ${tries} times)` : ''}.`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000 * tries));
    }
  }
}

/** Forgets the cached files (after they turned out corrupt), so the next visit downloads them. */
export async function forgetMnist() {
  await globalThis.caches?.delete(MNIST_CACHE);
}

/**
 * Reads a response's body to its end, counting its bytes into the progress; a body that
 * breaks off takes its bytes back out.
 * @param {Response} response
 * @param {(loaded: number, total?: number) => void} count
 */
async function readAll(response, count) {
  const size = Number(response.headers.get('Content-Length') || 0);
  count(0, size);
  const chunks = [];
  let read = 0;
  try {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      read += value.length;
      count(value.length);
    }
  } catch (e) {
    count(-read, -size);
    throw e;
  }
  return new Blob(chunks);
}

/**
 * Un-gzips with the browser's own DecompressionStream; a file that is not gzipped comes back
 * as it is (the trainer then says what is wrong with it).
 * @param {Blob} gzipped
 * @param {string} url for the error message
 */
async function gunzip(gzipped, url) {
  const [id1, id2] = new Uint8Array(await gzipped.slice(0, 2).arrayBuffer());
  if (id1 !== 0x1f || id2 !== 0x8b) return new Uint8Array(await gzipped.arrayBuffer());
  try {
    const stream = gzipped.stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    throw new Error(`${url} is not a valid gzip file: its compressed data is corrupt or ends early (was the download cut short?)`);
  }
}
