import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

// The demo imports the library like a user (`eva-tfjs`); the `eva-tfjs-source` export condition
// resolves the workspace packages to their TypeScript sources, so no build of them is needed.
// Two pages: the demo, and the end-to-end tests' backend check.
export default defineConfig({
  root: here('.'),
  resolve: { conditions: ['eva-tfjs-source', 'module', 'browser', 'development|production'] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      input: { demo: here('index.html'), backendCheck: here('backend-check.html') },
    },
  },
  server: { port: 5173 },
});
