// The consumer app is bundled as any Vite app would be; the MNIST files are served from the
// repository's data/ folder as static files.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  publicDir: fileURLToPath(new URL('../../data', import.meta.url)),
  build: { target: 'es2022' },
  logLevel: 'warn',
});
