// Completes the npm package in pkg/ after `wasm-pack build`: adds the package's own JavaScript
// (src/web/*.js: the entry index.js, the worker and its client, the browser glue) and the
// pretrained model that `make build` trains natively (index.js's `PRETRAINED_MODEL` is its URL),
// and makes index.js the entry in package.json.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';

const PRETRAINED = 'lenet5-mnist-pretrained.ckpt';
const FILES = ['index.js', 'index.d.ts', 'remote.js', 'worker.js', 'browser.js'];
for (const file of FILES) copyFileSync(`src/web/${file}`, `pkg/${file}`);
copyFileSync(`target/pretrained/${PRETRAINED}`, `pkg/${PRETRAINED}`);
FILES.push(PRETRAINED);

const manifest = JSON.parse(readFileSync('pkg/package.json', 'utf8'));
manifest.main = 'index.js';
manifest.module = 'index.js';
manifest.types = 'index.d.ts';
manifest.files = [...new Set([...manifest.files, ...FILES])];
manifest.sideEffects = [...new Set([...(manifest.sideEffects ?? []), './index.js'])];
writeFileSync('pkg/package.json', `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`pkg/: ${FILES.join(', ')} added; index.js is the entry`);
