/**
 * Run under mpirun: `throw` makes rank 1 throw in the middle of training (an uncaught error:
 * the communicator aborts the job); `hang` makes rank 1 stop calling collectives while the
 * others wait in one (the collective timeout aborts the job).
 */
import * as tf from '@tensorflow/tfjs';
import { MpiCommunicator, DataParallel } from 'eva-tfjs/distributed';
import { createOptimizer } from 'eva-tfjs';
import { createAutoencoder } from '../../src/models/autoencoder.js';

const mode = process.argv[2];
const communicator = new MpiCommunicator({ collectiveTimeout: 3 });
await tf.setBackend('cpu');
const model = createAutoencoder(12, [8, 3, 8]);
const optimizer = new DataParallel(
  createOptimizer('eva', model, { learningRate: 0.01 }),
  communicator,
);
await optimizer.synchronize(model);
model.compile({ optimizer, loss: 'meanSquaredError' });
const x = tf.randomUniform([8, 12]);
for (let step = 0; step < 100; step++) {
  if (step === 2 && communicator.rank === 1) {
    if (mode === 'throw') throw new Error('rank 1 failed on purpose');
    if (mode === 'hang') await new Promise(() => setInterval(() => {}, 1000));
  }
  await model.trainOnBatch(x, x);
}
communicator.finalize();
