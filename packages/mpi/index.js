'use strict';
// Loads the compiled Open MPI binding, or explains how to build it.
const path = require('node:path');

let binding;
try {
  binding = require(path.join(__dirname, 'build', 'Release', 'eva_mpi.node'));
} catch (e) {
  const error = new Error(
    '@eva-tfjs/mpi: the Open MPI addon is not built. Install Open MPI ' +
      '(Debian: apt-get install openmpi-bin libopenmpi-dev) and run `npm run build:mpi` ' +
      'in the eva-tfjs repository (or `npm run build --prefix node_modules/@eva-tfjs/mpi`). ' +
      `(${e.message.split('\n')[0]})`,
  );
  error.code = 'EVA_MPI_NOT_BUILT';
  error.cause = e;
  throw error;
}
module.exports = binding;
