#!/usr/bin/env node
// The eva-tfjs command: runs the compiled CLI (dist/, built by `npm run build`, which
// `npm install` runs in the repository and `npm pack` before publishing).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(cli)) {
  console.error(
    'eva-tfjs: the command is not built yet (no dist/cli/main.js); run `npm run build` in the ' +
      'eva-tfjs repository, or `npm run eva-tfjs -- <args>` to run it from the sources',
  );
  process.exit(1);
}
await import(cli.href);
