/**
 * Which layers are found and which are rejected: models without Dense/Conv2D layers, dilated
 * or channelsFirst convolutions and layers shared inside the model are errors naming the layer;
 * layers shared with another model and layers of nested models are found.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Eva } from '../../src/index.js';
import { useCpu } from '../helpers.js';

before(useCpu);

test('models without Dense/Conv2D, dilated, channelsFirst or shared layers are rejected', () => {
  const noLinear = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2] })] });
  assert.throws(() => new Eva(noLinear, tf.train.sgd(0.1)), /no Dense or Conv2D layer/);
  const dilated = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [8, 8, 1],
        filters: 2,
        kernelSize: 3,
        dilationRate: 2,
        name: 'dil',
      }),
    ],
  });
  assert.throws(
    () => new Eva(dilated, tf.train.sgd(0.1)),
    /Layer 'dil': dilationRate \[2,2\] is not supported/,
  );
  assert.throws(
    () => new Eva(dilated, tf.train.sgd(0.1), { skipLayers: ['dil'] }),
    /no Dense or Conv2D layer to precondition \(after skipLayers\)/,
  );
  const channelsFirst = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [1, 8, 8],
        filters: 2,
        kernelSize: 3,
        dataFormat: 'channelsFirst',
        name: 'cf',
      }),
    ],
  });
  assert.throws(
    () => new Eva(channelsFirst, tf.train.sgd(0.1)),
    /Layer 'cf': dataFormat 'channelsFirst'/,
  );
  const input = tf.input({ shape: [3] });
  const shared = tf.layers.dense({ units: 3, name: 'shared' });
  const head = tf.layers.dense({ units: 1, name: 'head' });
  const out = head.apply(shared.apply(shared.apply(input))) as tf.SymbolicTensor;
  const sharedModel = tf.model({ inputs: input, outputs: out });
  assert.throws(
    () => new Eva(sharedModel, tf.train.sgd(0.1)),
    /Layer 'shared' is applied at 2 places/,
  );
  const opt = new Eva(sharedModel, tf.train.sgd(0.1), { skipLayers: (l) => l.name === 'shared' });
  assert.deepEqual(
    opt.layers.map((l) => l.path),
    ['head'],
  );
  assert.throws(
    () => new Eva(sharedModel, tf.train.sgd(0.1), { skipLayers: ['shared'] }),
    /'head' is already captured/,
  );
  opt.dispose();
});

test('a layer shared with another model (not inside this one) is accepted; nested models are found', () => {
  const inner = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [4], units: 3, name: 'inner_d' })],
  });
  const input = tf.input({ shape: [4] });
  const out = tf.layers
    .dense({ units: 2, name: 'outer_d' })
    .apply(inner.apply(input)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const opt = new Eva(model, tf.train.sgd(0.1));
  assert.deepEqual(
    opt.layers.map((l) => l.path),
    [`${inner.name}/inner_d`, 'outer_d'],
  );
  opt.dispose();
});
