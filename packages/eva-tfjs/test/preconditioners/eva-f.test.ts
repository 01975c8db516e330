/**
 * Eva-f against an independent float64 dense computation on the small Conv2D/Dense model of the
 * preconditioner tests: I (x) (a a^T + gamma I) built explicitly and solved with ml-matrix.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import { EvaF } from '../../src/index.js';
import {
  addIdentity,
  checkLayerwise,
  identity,
  kron,
  layerInfos,
  runOnce,
  useCpu,
  values,
} from '../helpers.js';

before(useCpu);

for (const divideByDamping of [true, false]) {
  test(`EvaF equals I (x) (a a^T + gamma I)^-1 solved densely (divideByDamping ${divideByDamping})`, async () => {
    const damping = 0.05;
    const run = await runOnce(
      (m) =>
        new EvaF(m, tf.train.sgd(0.1), {
          damping,
          statsBatchSize: 5,
          divideByDamping,
          factorDecay: 0.7,
        }),
      2,
    );
    checkLayerwise(
      run,
      layerInfos(run.optimizer as EvaF),
      (info) => {
        const a = values(run.state.get(`evaf/${info.index}/a`)!);
        const aa = a.map((x) => a.map((y) => x * y));
        const c = kron(identity(info.out), addIdentity(aa, damping));
        return divideByDamping ? c : c.div(damping);
      },
      ({ pg }) => 1 / Math.sqrt(pg),
    );
    run.cleanup();
  });
}
