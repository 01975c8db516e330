'use strict';
// Builds the addon on request (`npm run build:mpi` in the repository, or `npm run build` in this
// package): checks for Open MPI's compiler wrapper first, so a missing Open MPI is one clear
// message instead of a gyp traceback, and uses the system's Node headers when they are installed
// (Debian's nodejs-dev / libnode-dev), so no header download is needed.
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const mpicc = spawnSync('mpicc', ['--showme:version'], { encoding: 'utf8' });
if (mpicc.error != null || mpicc.status !== 0) {
  console.error(
    '@eva-tfjs/mpi: Open MPI was not found (`mpicc` did not run). Install it first ' +
      '(Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev; macOS: brew install open-mpi), ' +
      'then run this build again.',
  );
  process.exit(1);
}
// npm puts its bundled node-gyp on PATH for scripts and names it in npm_config_node_gyp.
const gyp = process.env.npm_config_node_gyp;
const command = gyp != null ? process.execPath : 'node-gyp';
const args = gyp != null ? [gyp, 'rebuild'] : ['rebuild'];
const systemHeaders = path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node');
if (existsSync(path.join(systemHeaders, 'node.h'))) {
  args.push(`--nodedir=${path.dirname(path.dirname(systemHeaders))}`);
}
const result = spawnSync(command, args, { cwd: __dirname, stdio: 'inherit' });
if (result.error != null) {
  console.error(
    `@eva-tfjs/mpi: could not run node-gyp (${result.error.message}); run the build through npm.`,
  );
}
process.exit(result.status ?? 1);
