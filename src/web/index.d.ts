// The npm package's entry (index.js): the API of lenet_web.js, and the pretrained model's URL.
export * from './lenet_web.js';
export { default } from './lenet_web.js';

/** The URL of the pretrained model shipped in this package (LeNet-5 trained natively for 2
 * epochs, about 99% test accuracy), for `LeNet.load(PRETRAINED_MODEL)` or
 * `lenet.loadCheckpoint(PRETRAINED_MODEL)`. */
export declare const PRETRAINED_MODEL: string;
