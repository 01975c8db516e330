/**
 * Run under mpirun (see test/distributed.test.ts): trains a small autoencoder for a few steps
 * with `DataParallel` on each rank's shard of a fixed global batch, then checks that every
 * rank's weights are bitwise identical and (rank 0) that they match a single-process run of
 * the same optimizer on the global batch. Prints one JSON line from rank 0.
 *
 * With `unfreeze`, the first layer is frozen for the first half of the steps, so its parameters
 * miss steps and the state holds per-parameter step counts (`step/<key>`): the state must then
 * also be bitwise identical on every rank, and restoring it on every rank must continue the
 * same trajectory.
 *
 *   mpirun -np 2 node --import tsx test/mpi/equivalence.ts eva
 *   mpirun -np 2 node --import tsx test/mpi/equivalence.ts adam unfreeze
 */
import * as tf from '@tensorflow/tfjs';
import { MpiCommunicator, DataParallel } from 'eva-tfjs/distributed';
import { createOptimizerByName, disposeIterationCounters } from 'eva-tfjs';
import { createAutoencoder } from '../../src/models/autoencoder.js';
import { initializeLikePyTorch } from '../../src/models/initialize.js';
import { randomTensor } from '../../../eva-tfjs/test/helpers.js';

const optimizerName = process.argv[2] ?? 'eva';
const unfreeze = process.argv[3] === 'unfreeze';
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
  const first = model.layers.find((l) => l.getWeights().length > 0)!;
  for (const [s, batch] of batches.entries()) {
    if (s === 0 || (unfreeze && s === steps / 2)) {
      first.trainable = !(unfreeze && s === 0);
      model.compile({ optimizer, loss: 'meanSquaredError' });
    }
    const x = shard(batch);
    await model.trainOnBatch(x, x);
    if (x !== batch) x.dispose();
  }
  return flat(model.getWeights());
}

function flat(tensors: tf.Tensor[]): Float32Array {
  return Float32Array.from(tensors.flatMap((t) => Array.from(t.dataSync())));
}

/** How many of `values`' floats differ, in bits, from rank 0's (summed over the ranks). */
function mismatchesWithRank0(values: Float32Array): number {
  const reference = Float32Array.from(values);
  communicator.broadcast(reference, 0);
  const count = new Float32Array([0]);
  const bits = new Int32Array(values.buffer);
  const referenceBits = new Int32Array(reference.buffer);
  for (let i = 0; i < bits.length; i++) if (bits[i] !== referenceBits[i]) count[0]! += 1;
  communicator.allreduceSum(count);
  return count[0]!;
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

const mismatches = [mismatchesWithRank0(weights)];
// The last step's KL factor, where the optimizer has one: the same bits on every rank.
const klScale = parallel.lastScale;
const scaleMismatches = mismatchesWithRank0(Float32Array.from(klScale?.dataSync() ?? []));

// The optimizer state: the same names and bits on every rank; restored into a fresh optimizer
// on every rank, one more step equals the original's.
const state = await parallel.getWeights();
const stepEntries = state.filter((w) => w.name.startsWith('step/')).length;
const stateMismatches = mismatchesWithRank0(flat(state.map((w) => w.tensor)));
const copy = state.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
disposeIterationCounters(state);
const restoredModel = build(1);
restoredModel.setWeights(model.getWeights());
const restored = new DataParallel(
  createOptimizerByName(optimizerName, restoredModel, options),
  communicator,
);
restoredModel.compile({ optimizer: restored, loss: 'meanSquaredError' });
await restored.setWeights(copy);
tf.dispose(copy.map((w) => w.tensor));
const next = tf.slice(batches[0]!, [communicator.rank * local, 0], [local, -1]);
await model.trainOnBatch(next, next);
await restoredModel.trainOnBatch(next, next);
let resumeDiff = 0;
const continued = flat(model.getWeights());
const resumed = flat(restoredModel.getWeights());
for (let i = 0; i < continued.length; i++)
  resumeDiff = Math.max(resumeDiff, Math.abs(continued[i]! - resumed[i]!));

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
      stateMismatches,
      hasScale: klScale != null,
      scaleMismatches,
      stepEntries,
      resumeDiff,
      maxDiff,
      scale,
      moved,
      floats: parallel.communicatedFloats,
    }),
  );
}
communicator.finalize();
