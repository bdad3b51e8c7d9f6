// Writes a brotli (.br) and a gzip (.gz) copy next to each file named, for the development
// server (scripts/serve.py) to send to browsers that accept them. `make build` runs it.
//
// Usage: node scripts/compress.mjs FILE...
//
// Brotli at quality 9, not the maximum 11. On the 14.9 MB .wasm (2 cores, otherwise idle):
// quality 11 took 56 s for 1.90 MB, 10 took 24 s for 1.97 MB, 9 took 4 s for 2.17 MB; gzip at
// level 9, 0.6 s for 3.01 MB. The 0.27 MB that quality 11 saves is 0.1 s at 20 Mbit/s.

import { readFileSync, writeFileSync } from 'node:fs';
import zlib from 'node:zlib';

const BROTLI_QUALITY = 9;

/** Each copy's suffix, and how to make it. */
const COPIES = [
  ['.br', (data) => zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length } })],
  ['.gz', (data) => zlib.gzipSync(data, { level: 9 })],
];

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node scripts/compress.mjs FILE...');
  process.exit(2);
}
for (const file of files) {
  const data = readFileSync(file);
  for (const [suffix, compress] of COPIES) {
    const start = performance.now();
    const copy = compress(data);
    writeFileSync(file + suffix, copy);
    const seconds = ((performance.now() - start) / 1000).toFixed(1);
    console.log(`${file + suffix}: ${data.length} -> ${copy.length} bytes (${Math.round((100 * copy.length) / data.length)}%), ${seconds} s`);
  }
}
