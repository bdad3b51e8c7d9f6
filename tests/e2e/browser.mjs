// Shared set-up of the end-to-end tests: the demo server and headless Chromium.

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Screenshots of the page, kept as test artefacts (git-ignored). */
export const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));

/** The four MNIST files on the demo server's origin, as `LeNet.loadMnist` takes them. */
export const MNIST_PATHS = {
  trainImages: '/data/train-images-idx3-ubyte.gz',
  trainLabels: '/data/train-labels-idx1-ubyte.gz',
  testImages: '/data/t10k-images-idx3-ubyte.gz',
  testLabels: '/data/t10k-labels-idx1-ubyte.gz',
};

/** Flags Chromium needs here: root, a closed network, and WebGPU on SwiftShader. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

/**
 * Starts scripts/serve.py on a free port.
 * @returns {Promise<{ url: string, close: () => void }>}
 */
export function startServer() {
  const server = spawn('python3', ['scripts/serve.py', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.on('exit', (code) => reject(new Error(`serve.py exited with ${code}`)));
    server.stdout.setEncoding('utf8');
    server.stdout.once('data', (line) => {
      const url = line.match(/http:\/\/\S+\//)?.[0];
      if (!url) reject(new Error(`serve.py said: ${line}`));
      resolve({ url, close: () => server.kill() });
    });
  });
}

/**
 * Launches the system Chromium headless.
 * @param {{ webgpu?: boolean, flags?: string[] }} options webgpu: expose SwiftShader's WebGPU
 *   adapter; flags: more Chromium flags
 */
export async function launchBrowser({ webgpu = false, flags = [] } = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, ...(webgpu ? ['--enable-unsafe-webgpu'] : []), ...flags],
  });
}

/**
 * Opens the page and collects its console errors, uncaught exceptions and Content-Security-Policy
 * violations, and the URLs of every request made in its context (the worker's too).
 * @param {import('playwright-core').Browser | import('playwright-core').BrowserContext} target a
 *   browser (a new page in its default context) or a context of its own
 * @param {string} url
 */
export async function openPage(target, url) {
  const page = 'contexts' in target ? await target.newPage({ viewport: { width: 1100, height: 1400 } }) : await target.newPage();
  const errors = [];
  const requests = [];
  page.context().on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`)),
  );
  await page.goto(url);
  return { page, errors, requests };
}

/** Waits until the page's state (body[data-state]: starting, ready, training, paused, trained)
 * is `state`. */
export async function waitForState(page, state, timeout = 30_000) {
  await page.waitForSelector(`body[data-state="${state}"]`, { timeout });
}

/** Draws a stroke through `points` (pad coordinates, 0-280) with the mouse. */
export async function draw(page, points) {
  await page.locator('#pad').scrollIntoViewIfNeeded();
  const box = await page.locator('#pad').boundingBox();
  const scale = box.width / 280;
  const at = ([x, y]) => [box.x + x * scale, box.y + y * scale];
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 8 });
  await page.mouse.up();
}

/** Text of the ten probability bars in `list`. */
export const bars = (page, list) => page.locator(`${list} li`).allTextContents();

/** Waits for a prediction and returns the digit and the probability bars. */
export async function prediction(page) {
  await page.waitForFunction(() => /^\d$/.test(document.querySelector('#prediction').textContent), null, { timeout: 10_000 });
  await page.waitForTimeout(300);
  return { digit: await page.textContent('#prediction'), bars: await bars(page, '#probabilities') };
}
