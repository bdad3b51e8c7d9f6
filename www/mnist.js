// Downloads the four MNIST files from the page's own origin, with progress, and un-gzips them.

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
 * Fetches every MNIST file and returns their un-gzipped bytes, keyed as in MNIST_FILES.
 * @param {(loaded: number, total: number) => void} onProgress compressed bytes so far / in all
 * @returns {Promise<Record<keyof MNIST_FILES, Uint8Array>>}
 */
export async function downloadMnist(onProgress) {
  const responses = await Promise.all(
    Object.entries(MNIST_FILES).map(async ([key, url]) => {
      const response = await fetch(url);
      if (!response.ok) {
        throw new Error(`Could not download ${url}: the server answered ${response.status} ${response.statusText}.`);
      }
      return [key, url, response];
    }),
  );
  const total = responses.reduce((sum, [, , r]) => sum + Number(r.headers.get('Content-Length') || 0), 0);
  let loaded = 0;
  const files = await Promise.all(
    responses.map(async ([key, url, response]) => {
      const gzipped = await readAll(response.body, (n) => onProgress((loaded += n), total));
      return [key, await gunzip(gzipped, url)];
    }),
  );
  return Object.fromEntries(files);
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
