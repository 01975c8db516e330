import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// The demo imports the library like a user (`eva-tfjs`); the `eva-tfjs-source` export condition
// resolves the workspace packages to their TypeScript sources, so no build of them is needed.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  resolve: { conditions: ['eva-tfjs-source', 'module', 'browser', 'development|production'] },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 4096 },
  server: { port: 5173 },
});
