/**
 * Vite configuration of the browser example. `npx vite build examples/browser-vite` (from the
 * repository root) writes the page to examples/browser-vite/dist; `npx vite examples/browser-vite`
 * serves it with hot reload.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // In this repository, the `eva-tfjs-source` condition resolves `eva-tfjs` to the workspace's
  // TypeScript sources (no build needed). A project that installs eva-tfjs from npm needs no
  // `resolve` option at all: Vite picks the package's compiled `dist/`.
  resolve: { conditions: ['eva-tfjs-source', 'module', 'browser', 'development|production'] },
  // TensorFlow.js alone is ~850 kB of JavaScript; do not warn about it.
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2048 },
});
