// The demo server (scripts/serve.py) serves index.html, www/, pkg/ and data/ and nothing else:
// no request, however it spells "..", reaches the rest of the repository or of the machine. It
// sends the brotli or gzip copy of a file that `make build` wrote (while not out of date) to a
// client that accepts it, MNIST's .gz files as they are, and COOP and COEP on every response.

import assert from 'node:assert/strict';
import { readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, test } from 'node:test';
import zlib from 'node:zlib';
import { MNIST_PATHS, startServer } from './browser.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.close());

const ROOT = new URL('../../', import.meta.url);

/** The text of a file (relative to the repository, or absolute), or null where there is none. */
function contentOf(file) {
  try {
    return readFileSync(file.startsWith('/') ? file : new URL(file, ROOT), 'latin1');
  } catch {
    return null;
  }
}

/**
 * Sends `path` to the server exactly as written (fetch and URL would tidy the ".." away first),
 * with no Accept-Encoding unless `headers` has one.
 * @returns {Promise<{ status: number, headers: object, bytes: Buffer, body: string }>}
 */
function request(path, method = 'GET', headers = {}) {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path, method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, bytes, body: bytes.toString('latin1') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Each way of climbing out of a served directory, and the file it aims at. */
const TRAVERSALS = [
  ['/www/../.git/config', '.git/config'],
  ['/www/../Cargo.toml', 'Cargo.toml'],
  ['/www/%2e%2e/Cargo.toml', 'Cargo.toml'],
  ['/www/..%2fCargo.toml', 'Cargo.toml'],
  ['/www/%2E%2E%2FCargo.toml', 'Cargo.toml'],
  ['/www/./../README.md', 'README.md'],
  ['/www/../www/../README.md', 'README.md'],
  ['/www/..\\Cargo.toml', 'Cargo.toml'],
  ['/www/..%5cCargo.toml', 'Cargo.toml'],
  ['/www/%252e%252e/Cargo.toml', 'Cargo.toml'],
  ['/www/../scripts/serve.py?x=1', 'scripts/serve.py'],
  ['/data/%2E%2E/Makefile', 'Makefile'],
  ['/pkg/../Makefile', 'Makefile'],
  ['/pkg/../../etc/passwd', '/etc/passwd'],
  ['/www/%2e%2e/%2e%2e/etc/passwd', '/etc/passwd'],
  ['/..%2fCargo.toml', 'Cargo.toml'],
];

for (const [path, file] of TRAVERSALS) {
  for (const method of ['GET', 'HEAD']) {
    test(`${method} ${path} is refused`, async () => {
      const { status, body } = await request(path, method);
      assert.equal(status, 404);
      const content = contentOf(file);
      if (content) assert.ok(!body.includes(content), `the body holds ${file}`);
    });
  }
}

for (const path of ['/Cargo.toml', '/.git/config', '/scripts/serve.py', '/Makefile']) {
  for (const method of ['GET', 'HEAD']) {
    test(`${method} ${path} is refused`, async () => {
      const { status, body } = await request(path, method);
      assert.equal(status, 404);
      if (method === 'GET') assert.match(body, /Not served/);
    });
  }
}

/** The pages and files that are served, and the file each answers with. */
const SERVED = [
  ['/', 'index.html'],
  ['/index.html', 'index.html'],
  ['/index.html?v=1', 'index.html'],
  ['/www/main.js', 'www/main.js'],
  ['/www/%6dain.js', 'www/main.js'],
  ['/www/../www/main.js', 'www/main.js'],
];

for (const [path, file] of SERVED) {
  test(`GET ${path} is served, under the Content-Security-Policy`, async () => {
    const { status, headers, body } = await request(path);
    assert.equal(status, 200);
    assert.match(headers['content-security-policy'] ?? '', /default-src 'self'/);
    assert.equal(body, contentOf(file));
  });
}

test('HEAD /www/main.js is served, under the Content-Security-Policy', async () => {
  const { status, headers } = await request('/www/main.js', 'HEAD');
  assert.equal(status, 200);
  assert.match(headers['content-security-policy'] ?? '', /default-src 'self'/);
});

/** Each content coding the server sends, and how to undo it. */
const DECODE = { br: zlib.brotliDecompressSync, gzip: zlib.gunzipSync, identity: (bytes) => bytes };

/** Each Accept-Encoding, and the coding the .wasm then comes in (its copies from `make build`). */
const WASM_CODINGS = [
  ['br', 'br'],
  ['gzip, deflate, br, zstd', 'br'], // Chromium's
  ['gzip', 'gzip'],
  ['br;q=0, gzip', 'gzip'],
  [undefined, 'identity'],
  ['identity', 'identity'],
];

for (const [accept, coding] of WASM_CODINGS) {
  test(`GET /pkg/lenet_web_bg.wasm with Accept-Encoding ${accept ?? '(none)'} comes ${coding}`, async () => {
    const { status, headers, bytes } = await request('/pkg/lenet_web_bg.wasm', 'GET', accept ? { 'Accept-Encoding': accept } : {});
    assert.equal(status, 200);
    assert.equal(headers['content-encoding'] ?? 'identity', coding, 'the copies are written by `make build`');
    assert.equal(headers['content-type'], 'application/wasm');
    assert.equal(headers.vary, 'Accept-Encoding');
    assert.equal(Number(headers['content-length']), bytes.length);
    assert.ok(DECODE[coding](bytes).equals(readFileSync(new URL('pkg/lenet_web_bg.wasm', ROOT))), 'the bytes are those of the file');
  });
}

test('a copy older than its file is not sent: the next coding accepted is, or the file itself', async () => {
  const name = `pkg/server-test-${process.pid}.js`;
  const file = new URL(name, ROOT);
  const text = 'export const answer = 42;\n'.repeat(100);
  const copies = { br: new URL(`${name}.br`, ROOT), gzip: new URL(`${name}.gz`, ROOT) };
  const age = (path, seconds) => utimesSync(path, Date.now() / 1000 - seconds, Date.now() / 1000 - seconds);
  const get = async () => {
    const { status, headers, bytes } = await request(`/${name}`, 'GET', { 'Accept-Encoding': 'gzip, br' });
    assert.equal(status, 200);
    assert.equal(headers['content-type'], 'text/javascript');
    const coding = headers['content-encoding'] ?? 'identity';
    assert.equal(DECODE[coding](bytes).toString(), text);
    return coding;
  };
  try {
    writeFileSync(file, text);
    writeFileSync(copies.br, zlib.brotliCompressSync(text));
    writeFileSync(copies.gzip, zlib.gzipSync(text));
    age(file, 60);
    assert.equal(await get(), 'br');
    age(copies.br, 120);
    assert.equal(await get(), 'gzip');
    age(copies.gzip, 120);
    assert.equal(await get(), 'identity');
  } finally {
    for (const path of [file, ...Object.values(copies)]) rmSync(path, { force: true });
  }
});

test("MNIST's .gz files are sent as they are, gzip files, whatever the client accepts", async () => {
  const path = MNIST_PATHS.trainLabels;
  const { status, headers, bytes } = await request(path, 'GET', { 'Accept-Encoding': 'gzip, deflate, br, zstd' });
  assert.equal(status, 200);
  assert.equal(headers['content-encoding'], undefined);
  assert.equal(headers['content-type'], 'application/gzip');
  assert.ok(bytes.equals(readFileSync(new URL(path.slice(1), ROOT))));
});

for (const path of ['/', '/www/run.js', '/pkg/worker.js', '/pkg/lenet_web.js', '/pkg/lenet_web_bg.wasm', '/Cargo.toml']) {
  test(`GET ${path} is cross-origin isolated (COOP and COEP)`, async () => {
    const { headers } = await request(path, 'GET', { 'Accept-Encoding': 'br' });
    assert.equal(headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(headers['cross-origin-embedder-policy'], 'require-corp');
  });
}
