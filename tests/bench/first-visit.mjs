// First visit (`make bench`, after bench.mjs): the demo page opened in a fresh headless Chromium
// on a 20 Mbit/s link (CDP's Network.emulateNetworkConditions; the page's worker downloads
// through the same throttle), and trained on the CPU backend with the page's default settings.
// Measured: bytes on the wire, split into pkg/ (the .wasm and its JS), data/ (MNIST) and the
// rest (the page); seconds from navigation until the page is ready (MNIST downloaded) and until
// it shows the first training step. Once with the server's brotli and gzip copies, once without
// them (the browser sends Accept-Encoding: identity). Prints a table and writes
// target/bench/first-visit.json.
//
// The bytes are Chromium's encodedDataLength of each response (headers and body) as Playwright's
// request.sizes() reports it, for the worker's requests too (the page's CDP session sees none of
// them); only the worker's own script (4 KB) goes uncounted.
//
// Environment: BENCH_VISITS (default 3): visits of each kind; the table shows their medians.

import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launchBrowser, startServer } from '../e2e/browser.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VISITS = Number(process.env.BENCH_VISITS ?? 3);
/** The link: 20 Mbit/s down, 5 up, 20 ms latency. */
const LINK = { offline: false, latency: 20, downloadThroughput: 20e6 / 8, uploadThroughput: 5e6 / 8 };

/** Which part of the table a URL's bytes count in. */
const partOf = (url) => (url.includes('/pkg/') ? 'pkg' : url.includes('/data/') ? 'data' : 'page');

/** Resolves to the milliseconds from navigation until `predicate` (run in the page) returns a
 * time, `performance.now()` when it first holds. */
const when = (page, predicate) => page.waitForFunction(predicate, null, { timeout: 300_000 }).then((h) => h.jsonValue());

/**
 * One first visit in a fresh browser: the bytes each part took, the coding the .wasm came in,
 * and the seconds until the page was ready and until its first training step.
 */
async function visit(url, compression) {
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext();
    if (!compression) await context.setExtraHTTPHeaders({ 'Accept-Encoding': 'identity' });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', LINK);
    const bytes = { pkg: 0, data: 0, page: 0 };
    let wasmEncoding = null;
    const sizes = [];
    context.on('requestfinished', (request) => {
      sizes.push(
        request.sizes().then((s) => {
          bytes[partOf(request.url())] += s.responseHeadersSize + s.responseBodySize;
        }),
      );
      if (request.url().endsWith('.wasm')) {
        sizes.push(request.response().then((r) => (wasmEncoding = r.headers()['content-encoding'] ?? 'identity')));
      }
    });
    await page.goto(`${url}?backend=cpu`);
    const ready = await when(page, () => document.body.dataset.state === 'ready' && performance.now());
    await page.click('#train');
    const firstStep = await when(page, () => Number(document.querySelector('#train-progress').value) >= 1 && performance.now());
    await Promise.all(sizes);
    return { bytes: { ...bytes, total: bytes.pkg + bytes.data + bytes.page }, wasmEncoding, readySeconds: ready / 1000, firstStepSeconds: firstStep / 1000 };
  } finally {
    await browser.close();
  }
}

const median = (values) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)];

/** The median of each figure over `visits`. */
function medians(visits) {
  const of = (pick) => median(visits.map(pick));
  return {
    bytes: Object.fromEntries(Object.keys(visits[0].bytes).map((k) => [k, of((v) => v.bytes[k])])),
    wasmEncoding: visits[0].wasmEncoding,
    readySeconds: of((v) => v.readySeconds),
    firstStepSeconds: of((v) => v.firstStepSeconds),
  };
}

const server = await startServer();
const results = { link: LINK, visits: VISITS };
try {
  for (const [name, compression] of [['compressed', true], ['uncompressed', false]]) {
    const visits = [];
    for (let i = 0; i < VISITS; i++) visits.push(await visit(server.url, compression));
    results[name] = { ...medians(visits), each: visits };
  }
} finally {
  server.close();
}

const { compressed: on, uncompressed: off } = results;
const mb = (n) => (n / 1e6).toFixed(2);
const rows = [
  ['pkg/ (.wasm and JS), MB', (r) => mb(r.bytes.pkg)],
  ['data/ (MNIST), MB', (r) => mb(r.bytes.data)],
  ['the rest (page), MB', (r) => mb(r.bytes.page)],
  ['total on the wire, MB', (r) => mb(r.bytes.total)],
  ['page ready (MNIST loaded), s', (r) => r.readySeconds.toFixed(1)],
  ['first training step, s', (r) => r.firstStepSeconds.toFixed(1)],
];
console.log(`\nFirst visit, ${LINK.downloadThroughput * 8e-6} Mbit/s and ${LINK.latency} ms, CPU backend (median of ${VISITS})\n`);
console.log(`| | compressed (.wasm ${on.wasmEncoding}) | uncompressed (.wasm ${off.wasmEncoding}) |`);
console.log('|---|---:|---:|');
for (const [label, cell] of rows) console.log(`| ${label} | ${cell(on)} | ${cell(off)} |`);

mkdirSync(`${ROOT}/target/bench`, { recursive: true });
writeFileSync(`${ROOT}/target/bench/first-visit.json`, JSON.stringify(results, null, 2));
console.log('\nwritten: target/bench/first-visit.json');
