import path from 'node:path';
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

// Built to dist/web-ui, which the daemon serves. Everything is bundled: no CDN, no web fonts (offline phones).
export default defineConfig({
  root: here,
  base: '/',
  plugins: [preact()],
  build: {
    outDir: path.resolve(here, '../dist/web-ui'),
    emptyOutDir: true,
    target: ['safari14', 'chrome90'],
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    // `npx vite web-ui --config web-ui/vite.config.ts` against a daemon on :8080.
    proxy: {
      '/api': 'http://localhost:8080',
      '/stream.mjpg': 'http://localhost:8080',
      '/login': 'http://localhost:8080',
      '/ws': { target: 'ws://localhost:8080', ws: true },
    },
  },
});
