/**
 * Run under mpirun (see test/distributed.test.ts): trains a small autoencoder for a few steps
 * with `DataParallel` on each rank's shard of a fixed global batch, then checks that every
 * rank's weights are bitwise identical and (rank 0) that they match a single-process run of
 * the same optimizer on the global batch. Prints one JSON line from rank 0.
 *
 *   mpirun -np 2 node --import tsx test/mpi/equivalence.ts eva
 */
import * as tf from '@tensorflow/tfjs';
import { MpiCommunicator, DataParallel } from 'eva-tfjs/distributed';
import { createOptimizerByName } from 'eva-tfjs';
import { createAutoencoder } from '../../src/models/autoencoder.js';
import { initializeLikePyTorch } from '../../src/models/initialize.js';
import { randomTensor } from '../../../eva-tfjs/test/helpers.js';

const optimizerName = process.argv[2] ?? 'eva';
const steps = 4;
const globalBatch = 12;
const communicator = new MpiCommunicator({ collectiveTimeout: 60 });
await tf.setBackend('cpu');

const options = { learningRate: 0.05, weightDecay: 1e-4 };
const batches = Array.from({ length: steps }, (_, s) => randomTensor([globalBatch, 12], 100 + s));

function build(seed: number): tf.LayersModel {
  const model = createAutoencoder(12, [8, 3, 8]);
  initializeLikePyTorch(model, seed);
  return model;
}

async function train(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  shard: (x: tf.Tensor) => tf.Tensor,
) {
  model.compile({ optimizer, loss: 'meanSquaredError' });
  for (const batch of batches) {
    const x = shard(batch);
    await model.trainOnBatch(x, x);
    if (x !== batch) x.dispose();
  }
  return Float32Array.from(model.getWeights().flatMap((w) => Array.from(w.dataSync())));
}

const local = globalBatch / communicator.size;
// Each rank starts from different weights: synchronize() must make them rank 0's.
const model = build(1 + communicator.rank);
const parallel = new DataParallel(
  createOptimizerByName(optimizerName, model, options),
  communicator,
);
await parallel.synchronize(model);
const weights = await train(model, parallel, (b) =>
  tf.slice(b, [communicator.rank * local, 0], [local, -1]),
);

const reference = Float32Array.from(weights);
communicator.broadcast(reference, 0);
const mismatches = new Float32Array([0]);
const bits = new Int32Array(weights.buffer);
const referenceBits = new Int32Array(reference.buffer);
for (let i = 0; i < bits.length; i++) if (bits[i] !== referenceBits[i]) mismatches[0]! += 1;
communicator.allreduceSum(mismatches);

if (communicator.rank === 0) {
  const single = build(1);
  const singleWeights = await train(
    single,
    createOptimizerByName(optimizerName, single, options),
    (b) => b,
  );
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < weights.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(weights[i]! - singleWeights[i]!));
    scale = Math.max(scale, Math.abs(singleWeights[i]!));
  }
  let moved = 0;
  const initial = build(1)
    .getWeights()
    .flatMap((w) => Array.from(w.dataSync()));
  for (let i = 0; i < weights.length; i++)
    moved = Math.max(moved, Math.abs(weights[i]! - initial[i]!));
  console.log(
    JSON.stringify({
      optimizer: optimizerName,
      ranks: communicator.size,
      mismatches: mismatches[0],
      maxDiff,
      scale,
      moved,
      floats: parallel.communicatedFloats,
    }),
  );
}
communicator.finalize();
