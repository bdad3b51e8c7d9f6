// The npm package's entry: the API of lenet_web.js (generated from src/web/ by wasm-bindgen),
// with one addition: `worker: true` in the options of `LeNet.create()` or `LeNet.load()` puts
// the model in the package's own Web Worker (remote.js), behind the same API.

import init, { LeNet } from './lenet_web.js';
import { RemoteLeNet } from './remote.js';

export * from './lenet_web.js';
export default init;

for (const start of ['create', 'load']) {
  const inThisThread = LeNet[start];
  LeNet[start] = function (first, options) {
    const inOptions = start === 'create' && first && typeof first === 'object';
    const { worker, ...rest } = (inOptions ? first : options) ?? {};
    if (!worker) return inThisThread.call(LeNet, first, options);
    return RemoteLeNet.start(start, inOptions ? [rest] : [first, rest]);
  };
}
