/**
 * The captured Kronecker vectors equal independently computed values: `a` from the inputs
 * (explicit im2col for Conv2D), `g` from tf.grad of a hand-written equivalent of the model
 * with respect to its pre-activations; in model.fit and in a custom loop, with fused
 * activations; nothing is captured outside training.
 */

import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Eva, type Conv2DGeometry } from '../../src/index.js';
import { assertClose, explicitMeanPatch, randomTensor, useCpu, values } from '../helpers.js';

before(useCpu);

const N = 8; // statsBatchSize
const B = 20;

function mlp(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [5], units: 4, activation: 'relu', name: 'h' }),
      tf.layers.dense({ units: 3, name: 'o' }),
    ],
  });
}

/** Independent a and g of both layers from the model's current weights. */
function reference(model: tf.Sequential, x: tf.Tensor2D, y: tf.Tensor2D) {
  const [w1, b1, w2, b2] = model.getWeights() as [
    tf.Tensor2D,
    tf.Tensor1D,
    tf.Tensor2D,
    tf.Tensor1D,
  ];
  const z1 = tf.add(tf.matMul(x, w1), b1);
  const h = tf.relu(z1);
  const z2 = tf.add(tf.matMul(h, w2), b2);
  const loss = (pred: tf.Tensor) => tf.mean(tf.mean(tf.square(tf.sub(y, pred)), -1));
  const dz1 = tf.grad((z: tf.Tensor) => loss(tf.add(tf.matMul(tf.relu(z), w2), b2)))(z1);
  const dz2 = tf.grad((z: tf.Tensor) => loss(z))(z2);
  const head = (t: tf.Tensor) => values(tf.mean(tf.slice(t, 0, N), 0));
  return {
    h: { a: [...head(x), 1], g: head(dz1) },
    o: { a: [...head(h), 1], g: head(dz2) },
  };
}

function checkVectors(opt: Eva, expected: ReturnType<typeof reference>) {
  const vectors = opt.kroneckerVectors();
  for (const name of ['h', 'o'] as const) {
    const kv = vectors.get(name);
    assert.ok(kv, `vectors of ${name}`);
    assertClose(values(kv.a), expected[name].a, 1e-5, `${name}.a`);
    assertClose(values(kv.g), expected[name].g, 1e-5, `${name}.g`);
  }
}

test('a and g from model.fit equal an independent computation (fused relu)', async () => {
  const model = mlp();
  const x = randomTensor([B, 5], 3) as tf.Tensor2D;
  const y = randomTensor([B, 3], 4) as tf.Tensor2D;
  const expected = reference(model, x, y);
  const opt = new Eva(model, tf.train.sgd(0.1), { factorDecay: 1, statsBatchSize: N });
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  await model.fit(x, y, { batchSize: B, epochs: 1, shuffle: false, verbose: 0 });
  checkVectors(opt, expected);
  opt.dispose();
  model.dispose();
});

test('a and g from a custom tf.variableGrads loop with model.predict inside the tape', () => {
  const model = mlp();
  const x = randomTensor([B, 5], 5) as tf.Tensor2D;
  const y = randomTensor([B, 3], 6) as tf.Tensor2D;
  const expected = reference(model, x, y);
  const opt = new Eva(model, tf.train.sgd(0.1), { factorDecay: 1, statsBatchSize: N });
  const { grads } = tf.variableGrads(
    () => tf.losses.meanSquaredError(y, model.predict(x) as tf.Tensor) as tf.Scalar,
  );
  opt.applyGradients(grads);
  checkVectors(opt, expected);
  opt.dispose();
  model.dispose();
});

test('running average: m = (1 - decay) m + decay new, first capture taken as is', () => {
  const model = mlp();
  const opt = new Eva(model, tf.train.sgd(1e-9), { factorDecay: 0.25, statsBatchSize: N });
  const xs = [randomTensor([B, 5], 7), randomTensor([B, 5], 8)] as tf.Tensor2D[];
  const firstA = [...values(tf.mean(tf.slice(xs[0]!, 0, N), 0)), 1];
  const secondA = [...values(tf.mean(tf.slice(xs[1]!, 0, N), 0)), 1];
  for (const x of xs) {
    opt.minimize(
      () =>
        tf.losses.meanSquaredError(
          x,
          tf.concat([model.apply(x, { training: true }) as tf.Tensor, x], 1).slice([0, 0], [B, 5]),
        ) as tf.Scalar,
    );
  }
  const a = values(opt.kroneckerVectors().get('h')!.a);
  assertClose(
    a,
    firstA.map((v, i) => 0.75 * v + 0.25 * secondA[i]!),
    1e-5,
    'a',
  );
  opt.dispose();
  model.dispose();
});

test('nothing is captured by predict or evaluate outside training', () => {
  const model = mlp();
  model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
  const opt = new Eva(model, tf.train.sgd(0.1));
  const x = randomTensor([B, 5], 9);
  tf.dispose(model.predict(x) as tf.Tensor);
  tf.dispose(model.evaluate(x, randomTensor([B, 3], 10)) as tf.Scalar);
  assert.ok(opt.layers.every((l) => !l.hasPending));
  opt.dispose();
  model.dispose();
});

test('Dense on rank-3 input averages every leading axis', () => {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4, 3], units: 2, name: 'seq' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 1 }),
    ],
  });
  const opt = new Eva(model, tf.train.sgd(0.1), { factorDecay: 1, statsBatchSize: 3 });
  const x = randomTensor([6, 4, 3], 11);
  const { grads } = tf.variableGrads(
    () => tf.sum(model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
  );
  opt.applyGradients(grads);
  const expected = [...values(tf.mean(tf.reshape(tf.slice(x, 0, 3), [12, 3]), 0)), 1];
  assertClose(values(opt.kroneckerVectors().get('seq')!.a), expected, 1e-5, 'a');
  opt.dispose();
  model.dispose();
});

test('Conv2D a and g through model.fit match im2col of the batch-mean image and mean dy', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [5, 5, 2],
        filters: 3,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        name: 'conv',
      }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2 }),
    ],
  });
  const x = randomTensor([6, 5, 5, 2], 13);
  const y = randomTensor([6, 2], 14);
  const [k, b] = model.layers[0]!.getWeights();
  const [w2, b2] = model.layers[2]!.getWeights();
  const z = tf.add(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 2, 'same'), b!);
  const dz = tf.grad((zz: tf.Tensor) =>
    tf.mean(
      tf.mean(
        tf.square(
          tf.sub(y, tf.add(tf.matMul(tf.reshape(tf.relu(zz), [6, -1]), w2 as tf.Tensor2D), b2!)),
        ),
        -1,
      ),
    ),
  )(z);
  const opt = new Eva(model, tf.train.sgd(0.1), { factorDecay: 1, statsBatchSize: 4 });
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  await model.fit(x, y, { batchSize: 6, epochs: 1, shuffle: false, verbose: 0 });
  const meanImage = values(tf.mean(tf.slice(x, 0, 4), 0));
  const geometry = opt.layers[0]!.geometry as Conv2DGeometry;
  const expectedA = [...explicitMeanPatch(meanImage, 5, 5, 2, geometry, 3, 3, 1, 1), 1];
  const kv = opt.kroneckerVectors().get('conv')!;
  assertClose(values(kv.a), expectedA, 1e-5, 'a');
  assertClose(values(kv.g), values(tf.mean(tf.slice(dz, 0, 4), [0, 1, 2])), 1e-5, 'g');
  opt.dispose();
  model.dispose();
});
