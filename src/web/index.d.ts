// The npm package's entry (index.js): the API of lenet_web.js.
export * from './lenet_web.js';
export { default } from './lenet_web.js';
