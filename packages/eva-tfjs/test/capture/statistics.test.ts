/**
 * The statistics of the captured layers: Conv2D mean patches against explicit im2col, and the
 * per-sample rows of K-FAC-style statistics.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  activationRows,
  gradientMean,
  gradientRows,
  meanPatches,
  type Conv2DGeometry,
} from '../../src/index.js';
import { assertClose, explicitMeanPatch, randomTensor, useCpu, values } from '../helpers.js';

before(useCpu);

for (const [padding, strides, kernelSize] of [
  ['same', [1, 1], [3, 3]],
  ['same', [2, 2], [3, 2]],
  ['valid', [2, 1], [3, 3]],
  ['valid', [3, 2], [2, 2]],
] as const) {
  test(`Conv2D mean patches equal explicit im2col (${padding}, strides ${strides}, kernel ${kernelSize})`, () => {
    const [n, h, w, c] = [3, 7, 6, 2];
    const x = randomTensor([n, h, w, c], 12);
    const geometry: Conv2DGeometry = {
      kind: 'conv2d',
      inFeatures: kernelSize[0] * kernelSize[1] * c,
      outFeatures: 1,
      hasBias: false,
      kernelSize,
      inChannels: c,
      strides,
      padding,
    };
    const out = (size: number, k: number, s: number) =>
      padding === 'valid' ? Math.ceil((size - k + 1) / s) : Math.ceil(size / s);
    const oh = out(h, kernelSize[0], strides[0]);
    const ow = out(w, kernelSize[1], strides[1]);
    const padTotal = (o: number, k: number, s: number, size: number) =>
      Math.max((o - 1) * s + k - size, 0);
    const top = padding === 'same' ? Math.floor(padTotal(oh, kernelSize[0], strides[0], h) / 2) : 0;
    const left =
      padding === 'same' ? Math.floor(padTotal(ow, kernelSize[1], strides[1], w) / 2) : 0;
    const got = values(meanPatches(x as tf.Tensor4D, geometry));
    const all = values(x);
    const expected = [...Array(n).keys()].flatMap((s) =>
      explicitMeanPatch(
        all.slice(s * h * w * c, (s + 1) * h * w * c),
        h,
        w,
        c,
        geometry,
        oh,
        ow,
        top,
        left,
      ),
    );
    assertClose(got, expected, 1e-5, 'patches');
  });
}

test('per-sample rows for K-FAC-style statistics: bias column, conv patch means, spatial-mean dy', () => {
  const dense = { kind: 'dense', inFeatures: 3, outFeatures: 2, hasBias: true } as const;
  const x = randomTensor([2, 4, 3], 15);
  const rows = activationRows(x, dense);
  assert.deepEqual(rows.shape, [8, 4]);
  assert.deepEqual(values(tf.slice(rows, [0, 3], [8, 1])), new Array(8).fill(1));
  assertClose(values(tf.slice(rows, [0, 0], [8, 3])), values(x), 1e-7, 'rows');
  const conv: Conv2DGeometry = {
    kind: 'conv2d',
    inFeatures: 8,
    outFeatures: 2,
    hasBias: false,
    kernelSize: [2, 2],
    inChannels: 2,
    strides: [1, 1],
    padding: 'valid',
  };
  const img = randomTensor([3, 4, 4, 2], 16);
  assertClose(
    values(activationRows(img, conv)),
    values(meanPatches(img as tf.Tensor4D, conv)),
    1e-7,
    'conv rows',
  );
  const dy = randomTensor([3, 3, 3, 2], 17);
  assertClose(values(gradientRows(dy, conv)), values(tf.mean(dy, [1, 2])), 1e-7, 'g rows');
  assertClose(values(gradientMean(dy, conv)), values(tf.mean(dy, [0, 1, 2])), 1e-7, 'g mean');
});
