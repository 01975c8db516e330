/**
 * FOOF against an independent float64 dense computation on the small Conv2D/Dense model of the
 * preconditioner tests: I (x) (A + gamma I) built explicitly and solved with ml-matrix.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import { FOOF } from '../../src/index.js';
import {
  addIdentity,
  checkLayerwise,
  identity,
  kron,
  layerInfos,
  read2d,
  runOnce,
  useCpu,
} from '../helpers.js';

before(useCpu);

test('FOOF equals I (x) (A + gamma I)^-1 solved densely, KL-normalised', async () => {
  const damping = 0.05;
  const run = await runOnce((m) => new FOOF(m, tf.train.sgd(0.1), { damping, statsBatchSize: 5 }));
  checkLayerwise(
    run,
    layerInfos(run.optimizer as FOOF),
    (info) =>
      kron(
        identity(info.out),
        addIdentity(read2d(run.state.get(`foof/${info.index}/A`)!), damping),
      ),
    ({ pg }) => 1 / Math.sqrt(pg),
  );
  run.cleanup();
});
