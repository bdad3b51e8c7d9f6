// The npm package's entry: the API of lenet_web.js (generated from src/web/ by wasm-bindgen),
// with two additions: `worker: true` in the options of `LeNet.create()` or `LeNet.load()` puts
// the model in the package's own Web Worker (remote.js), behind the same API; and
// `PRETRAINED_MODEL`, the URL of the model shipped in the package.

import init, { LeNet } from './lenet_web.js';
import { RemoteLeNet } from './remote.js';

export * from './lenet_web.js';
export default init;

/** The URL of the pretrained model in this package (LeNet-5 trained natively by `make build`
 * for 2 epochs, data-parallel on two CPU devices; about 99% test accuracy), for
 * `LeNet.load(PRETRAINED_MODEL)` or `lenet.loadCheckpoint(PRETRAINED_MODEL)`. Bundlers that
 * understand `new URL(..., import.meta.url)` (Vite, webpack 5) ship the file with the app. */
export const PRETRAINED_MODEL = new URL('./lenet5-mnist-pretrained.ckpt', import.meta.url).href;

for (const start of ['create', 'load']) {
  const inThisThread = LeNet[start];
  LeNet[start] = function (first, options) {
    const inOptions = start === 'create' && first && typeof first === 'object';
    const { worker, ...rest } = (inOptions ? first : options) ?? {};
    if (!worker) return inThisThread.call(LeNet, first, options);
    return RemoteLeNet.start(start, inOptions ? [rest] : [first, rest]);
  };
}
