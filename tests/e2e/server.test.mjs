// The demo server (scripts/serve.py) serves index.html, www/, pkg/ and data/ and nothing else:
// no request, however it spells "..", reaches the rest of the repository or of the machine.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { startServer } from './browser.mjs';

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
 * Sends `path` to the server exactly as written (fetch and URL would tidy the ".." away first).
 * @returns {Promise<{ status: number, headers: object, body: string }>}
 */
function request(path, method = 'GET') {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path, method, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }));
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
