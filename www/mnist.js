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

/**
 * Fetches every MNIST file (from the cache when it holds them) and returns their un-gzipped
 * bytes, keyed as in MNIST_FILES, and whether they all came from the cache.
 * @param {(loaded: number, total: number) => void} onProgress compressed bytes so far / in all
 * @returns {Promise<{files: Record<keyof MNIST_FILES, Uint8Array>, cached: boolean}>}
 */
export async function downloadMnist(onProgress) {
  const cache = globalThis.caches ? await caches.open(MNIST_CACHE).catch(() => null) : null;
  const responses = await Promise.all(
    Object.entries(MNIST_FILES).map(async ([key, url]) => {
      const cached = await cache?.match(url);
      if (cached) return [key, url, cached, true];
      const response = await fetch(url);
      if (!response.ok) {
        throw new Error(`Could not download ${url}: the server answered ${response.status} ${response.statusText}.`);
      }
      return [key, url, response, false];
    }),
  );
  const total = responses.reduce((sum, [, , r]) => sum + Number(r.headers.get('Content-Length') || 0), 0);
  let loaded = 0;
  const files = await Promise.all(
    responses.map(async ([key, url, response, fromCache]) => {
      const gzipped = await readAll(response.body, (n) => onProgress((loaded += n), total));
      const bytes = await gunzip(gzipped, url);
      // Only a file that downloaded and un-gzipped in full is kept.
      if (!fromCache) {
        const headers = { 'Content-Type': 'application/gzip', 'Content-Length': String(gzipped.size) };
        await cache?.put(url, new Response(gzipped, { headers })).catch(() => {});
      }
      return [key, bytes];
    }),
  );
  return { files: Object.fromEntries(files), cached: responses.every(([, , , fromCache]) => fromCache) };
}

/** Forgets the cached files (after they turned out corrupt), so the next visit downloads them. */
export async function forgetMnist() {
  await globalThis.caches?.delete(MNIST_CACHE);
}

/**
 * Reads a stream to its end.
 * @param {ReadableStream<Uint8Array>} stream
 * @param {(bytes: number) => void} onChunk
 */
async function readAll(stream, onChunk) {
  const chunks = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    onChunk(value.length);
  }
  return new Blob(chunks);
}

/**
 * Un-gzips with the browser's own DecompressionStream.
 * @param {Blob} gzipped
 * @param {string} url for the error message
 */
async function gunzip(gzipped, url) {
  try {
    const stream = gzipped.stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(`${url} is not a valid gzip file (${e.message}).`);
  }
}
