import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// The demo imports the library like a user (`eva-tfjs`), resolved to this repository's source.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  resolve: {
    alias: { 'eva-tfjs': fileURLToPath(new URL('../src/index.ts', import.meta.url)) },
  },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 4096 },
  server: { port: 5173 },
});
