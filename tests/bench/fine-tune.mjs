// The fine-tuning benchmark (part of `make bench`): how much teaching the model a few examples of
// another way of writing helps, and what it costs MNIST. The other source of digits is not MNIST
// and not committed as data: the digits 0-9 in the fonts of Debian's font packages (`make fonts`),
// regular, bold, italic and bold italic, in three sizes, drawn dark on white on a canvas and
// classified through `predictImage()`, the draw pad's own path. Two groups:
// - other ways of writing: four handwriting fonts (DkgHandwriting, Breip, femkeklaver,
//   Rufscript) and the seven- and fourteen-segment display fonts of DSEG;
// - typefaces (DejaVu, Liberation and FreeFont: serif, sans and monospaced), which the model
//   reads well already: fine-tuning must not cost them either.
//
// In the package's Web Worker on the CPU backend, as the demo page runs it: the default 1-epoch
// model is trained, then reads every digit; 10 of each digit of the first group (drawn at random,
// seed 7) are added with `addExamples()` and `fineTune()` runs with its defaults; then the rest of
// the first group (held out), the typefaces and the MNIST test set are read again. Prints a
// before/after table and writes target/bench/fine-tune.json.
//
// Environment: FINE_TUNE_PER_DIGIT (default 10) examples per digit; FINE_TUNE_SWEEP, a JSON
// array of `fineTune()` settings (e.g. '[{"steps": 80}, {"learningRate": 0.001}]'), fine-tunes
// the same model with each in turn (undoing in between) and prints a row for each instead.

import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MNIST_PATHS, launchBrowser, startServer } from '../e2e/browser.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PER_DIGIT = Number(process.env.FINE_TUNE_PER_DIGIT ?? 10);
const SWEEP = JSON.parse(process.env.FINE_TUNE_SWEEP ?? '[{}]');
const FAMILIES = {
  other: ['DkgHandwriting', 'Breip', 'femkeklaver', 'Rufscript', 'DSEG7 Classic', 'DSEG7 Modern', 'DSEG14 Classic', 'DSEG14 Modern'],
  typefaces: ['DejaVu Sans', 'DejaVu Serif', 'DejaVu Sans Mono', 'DejaVu Sans Condensed', 'DejaVu Serif Condensed', 'Liberation Sans', 'Liberation Serif', 'Liberation Mono', 'FreeSans', 'FreeSerif', 'FreeMono'],
};

/** Runs in the page: the whole measurement. */
async function measure({ mnist, families, perDigit, sweep }) {
  const { LeNet } = await import('/pkg/index.js');
  const lenet = await LeNet.create({ backend: 'cpu', worker: true });
  await lenet.loadMnist(mnist);
  await document.fonts.ready;

  // Every digit in every font of `names` that the browser has (a missing family would fall back
  // to another font: it is left out), as a drawing of dark ink on white.
  const missing = [];
  const typeset = (names) => {
    const drawings = [];
    for (const family of names) {
      if (!document.fonts.check(`40px "${family}"`, '0123456789')) {
        missing.push(family);
        continue;
      }
    for (const weight of ['normal', 'bold'])
      for (const style of ['normal', 'italic'])
        for (const size of [48, 72, 96])
          for (let digit = 0; digit < 10; digit++) {
            const canvas = document.createElement('canvas');
            canvas.width = canvas.height = 140;
            const ctx = canvas.getContext('2d');
            ctx.fillStyle = '#fff';
            ctx.fillRect(0, 0, 140, 140);
            ctx.fillStyle = '#000';
            ctx.font = `${style} ${weight} ${size}px "${family}"`;
            ctx.textAlign = 'center';
            ctx.textBaseline = 'middle';
            ctx.fillText(String(digit), 70, 70);
            drawings.push({ canvas, digit, font: `${family} ${weight} ${style} ${size}px` });
          }
    }
    return drawings;
  };
  const drawings = typeset(families.other);
  const typefaces = typeset(families.typefaces);

  // 10 of each digit to teach, drawn with a seeded generator (mulberry32); the rest held out.
  let seed = 7;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const taught = new Set();
  for (let digit = 0; digit < 10; digit++) {
    const ofDigit = drawings.filter((d) => d.digit === digit);
    while ([...taught].filter((d) => d.digit === digit).length < perDigit) taught.add(ofDigit[Math.floor(random() * ofDigit.length)]);
  }
  const held = drawings.filter((d) => !taught.has(d));
  const accuracy = async (set) => {
    let right = 0;
    for (const { canvas, digit } of set) if ((await lenet.predictImage(canvas)).digit === digit) right += 1;
    return right / set.length;
  };

  const trainStarted = performance.now();
  await lenet.train({ epochs: 1 });
  const trainSeconds = (performance.now() - trainStarted) / 1000;
  const read = async () => ({ fonts: await accuracy(held), taught: await accuracy([...taught]), typefaces: await accuracy(typefaces), mnist: (await lenet.evaluate()).accuracy });
  const before = await read();

  await lenet.addExamples([...taught].map(({ canvas, digit }) => ({ image: canvas, label: digit })));
  const runs = [];
  for (const settings of sweep) {
    const started = performance.now();
    const report = await lenet.fineTune(settings);
    const seconds = (performance.now() - started) / 1000;
    const after = await read();
    await lenet.undoFineTune();
    runs.push({ settings, report, seconds, after });
  }
  const restored = { fonts: await accuracy(held) };
  lenet.free();
  return { missing, drawings: drawings.length, typefaces: typefaces.length, heldOut: held.length, trainSeconds, before, runs, restored };
}

const browser = await launchBrowser();
const server = await startServer();
let results;
try {
  const page = await browser.newPage();
  page.on('console', (m) => m.type() === 'error' && console.error(m.text()));
  await page.goto(server.url);
  results = await page.evaluate(measure, { mnist: MNIST_PATHS, families: FAMILIES, perDigit: PER_DIGIT, sweep: SWEEP });
} finally {
  await browser.close();
  server.close();
}

const pct = (x) => `${(x * 100).toFixed(2)}%`;
const points = (a, b) => `${((b - a) * 100 >= 0 ? '+' : '')}${((b - a) * 100).toFixed(2)} points`;
const { before } = results;
const [{ after, report, seconds }] = results.runs;
const sweepRow = ({ settings, report, seconds, after }) =>
  `| ${JSON.stringify(settings)} | ${pct(after.fonts)} | ${pct(after.taught)} | ${pct(after.typefaces)} | ${pct(after.mnist)} (${points(before.mnist, after.mnist)}) | ${seconds.toFixed(2)} s |`;
console.log(
  results.runs.length > 1 ? [
    `${results.drawings} handwriting and display font digits, ${results.typefaces} typeface digits; the default 1-epoch model trained in ${results.trainSeconds.toFixed(0)} s; ${results.runs[0].report.examples} examples (${PER_DIGIT} per digit).`,
    '',
    '| fineTune() settings | handwriting and display, held out | taught | typefaces | MNIST test | time |',
    '|---|---|---|---|---|---|',
    `| before | ${pct(before.fonts)} | ${pct(before.taught)} | ${pct(before.typefaces)} | ${pct(before.mnist)} | |`,
    ...results.runs.map(sweepRow),
  ].join('\n') : [
    `Fonts (regular, bold, italic and bold italic; 48, 72 and 96 px): other ways of writing, ${FAMILIES.other.join(', ')}: ${results.drawings} digits; typefaces, ${FAMILIES.typefaces.join(', ')}: ${results.typefaces} digits.${results.missing.length ? ` Missing (left out): ${results.missing.join(', ')}.` : ''}`,
    `The default 1-epoch model, trained in ${results.trainSeconds.toFixed(0)} s on the CPU backend; fine-tuned on ${report.examples} of the font digits (${PER_DIGIT} per digit) for ${report.steps} steps.`,
    '',
    '| CPU backend, in the package\'s worker | before fine-tuning | after | change |',
    '|---|---|---|---|',
    `| handwriting and display fonts, held out (${results.heldOut}) | ${pct(before.fonts)} | ${pct(after.fonts)} | ${points(before.fonts, after.fonts)} |`,
    `| handwriting and display fonts, taught (${report.examples}) | ${pct(before.taught)} | ${pct(after.taught)} | ${points(before.taught, after.taught)} |`,
    `| typefaces (${results.typefaces}) | ${pct(before.typefaces)} | ${pct(after.typefaces)} | ${points(before.typefaces, after.typefaces)} |`,
    `| MNIST test set (10,000) | ${pct(before.mnist)} | ${pct(after.mnist)} | ${points(before.mnist, after.mnist)} |`,
    `| fine-tuning time | | ${seconds.toFixed(2)} s | |`,
    '',
    `Undo: the held-out handwriting and display fonts read ${pct(results.restored.fonts)} again.`,
  ].join('\n'),
);
mkdirSync(`${ROOT}/target/bench`, { recursive: true });
writeFileSync(`${ROOT}/target/bench/fine-tune.json`, JSON.stringify({ date: new Date().toISOString(), perDigit: PER_DIGIT, ...results }, null, 2));
console.log('written: target/bench/fine-tune.json');
