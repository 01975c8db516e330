/**
 * Eva's update checked against an independent float64 dense solve of
 * ((g g^T) (x) (a a^T) + gamma I) p = vec(G), for Dense (with/without bias) and Conv2D
 * (stride 1 'same', stride 2 'valid'), including KL clipping across all layers.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Eva, disposeIterationCounters } from '../../src/index.js';
import { DataParallel, LocalCommunicator } from '../../src/distributed/index.js';
import {
  assertClose,
  denseEvaReference,
  matrix,
  randomTensor,
  useCpu,
  values,
} from '../helpers.js';

before(useCpu);

function buildModel(): tf.LayersModel {
  const input = tf.input({ shape: [6, 6, 2] });
  let h = tf.layers
    .conv2d({
      filters: 3,
      kernelSize: 3,
      strides: 1,
      padding: 'same',
      activation: 'relu',
      name: 'c1',
    })
    .apply(input) as tf.SymbolicTensor;
  h = tf.layers
    .conv2d({
      filters: 4,
      kernelSize: [3, 2],
      strides: 2,
      padding: 'valid',
      useBias: false,
      name: 'c2',
    })
    .apply(h) as tf.SymbolicTensor;
  h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 5, activation: 'tanh', name: 'd1' }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: 3, useBias: false, name: 'd2' })
    .apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

function gradients(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor) {
  return tf.variableGrads(
    () =>
      tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
  );
}

for (const klClip of [null, 0.001, 0] as const) {
  test(`Eva equals the dense float64 solve on Dense and Conv2D layers (klClip ${klClip})`, async () => {
    const model = buildModel();
    const lr = 0.3;
    const damping = 0.05;
    const opt = new Eva(model, tf.train.sgd(lr), {
      damping,
      factorDecay: 1,
      klClip,
      statsBatchSize: 5,
    });
    const x = randomTensor([7, 6, 6, 2], 1);
    const y = randomTensor([7, 3], 2);
    const { value, grads } = gradients(model, x, y);
    const result = opt.precondition(grads)!;
    const byName = new Map(result.map((r) => [r.name, r.tensor]));
    const vectors = opt.kroneckerVectors();
    let klSum = 0;
    let gradSq = 0;
    let precSq = 0;
    const references: Array<{
      kernelName: string;
      biasName?: string;
      ref: ReturnType<typeof denseEvaReference>;
    }> = [];
    for (const captured of opt.layers) {
      const layer = captured.layer as unknown as {
        kernel: { read(): tf.Variable };
        bias: { read(): tf.Variable } | null;
      };
      const kernelName = layer.kernel.read().name;
      const biasName = layer.bias?.read().name;
      const inFeatures = captured.geometry.inFeatures;
      const kv = vectors.get(captured.path)!;
      assert.ok(kv, `vectors of ${captured.path}`);
      const ref = denseEvaReference(
        matrix(grads[kernelName]!, inFeatures),
        biasName ? values(grads[biasName]!) : null,
        values(kv.a),
        values(kv.g),
        damping,
      );
      references.push({ kernelName, biasName, ref });
      ref.vec.forEach((gv, i) => {
        klSum += gv * ref.p[i]!;
        gradSq += gv * gv;
        precSq += ref.p[i]! ** 2;
      });
    }
    assert.equal(references.length, 4);
    let nu = 1;
    if (klClip === 0) nu = Math.sqrt(gradSq / precSq);
    else if (klClip != null && klSum > 0) nu = Math.min(1, Math.sqrt(klClip / (lr * lr * klSum)));
    if (klClip === 0.001) assert.ok(nu < 1, 'the test must exercise clipping');
    for (const { kernelName, biasName, ref } of references) {
      const inFeatures = ref.kernel.length;
      assertClose(
        matrix(byName.get(kernelName)!, inFeatures).flat(),
        ref.kernel.flat().map((v) => v * nu),
        2e-4,
        kernelName,
      );
      if (biasName)
        assertClose(
          values(byName.get(biasName)!),
          ref.bias!.map((v) => v * nu),
          2e-4,
          biasName,
        );
    }
    // The factor is exposed for diagnostics, owned by the optimizer until its next step.
    const scale = opt.lastScale;
    if (klClip == null) assert.equal(scale, null);
    else assertClose(values(scale!), [nu], 1e-4, 'lastScale');
    tf.dispose(opt.precondition(grads)!.map((r) => r.tensor));
    if (scale != null) assert.ok(scale.isDisposed, 'the next step replaces lastScale');
    const parallel = new DataParallel(opt, new LocalCommunicator());
    assert.equal(parallel.lastScale, opt.lastScale, 'DataParallel passes lastScale through');
    if (klClip != null) {
      // A restored state has no last step.
      const saved = await opt.getWeights();
      const before = opt.lastScale!;
      await opt.setWeights(saved);
      disposeIterationCounters(saved);
      assert.ok(before.isDisposed && opt.lastScale == null, 'setWeights clears lastScale');
      tf.dispose(opt.precondition(grads)!.map((r) => r.tensor));
    }
    const kept = opt.lastScale;
    tf.dispose([x, y, value, ...Object.values(grads), ...result.map((r) => r.tensor)]);
    opt.dispose();
    if (kept != null) assert.ok(kept.isDisposed && opt.lastScale == null, 'dispose frees it');
    model.dispose();
  });
}
