/**
 * The wasm Slice override (copies from a view of the heap instead of reading the whole input
 * back) gives the cpu backend's slices: ranks 1-5, contiguous and strided, sizes of -1 and 0,
 * float32/int32/bool, and slices taken while other tensors grow the heap.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enableFastKernels } from '../../src/index.js';
import { randomValues } from '../helpers.js';

const CASES: Array<[number[], number[], number[]]> = [
  [[10], [3], [4]],
  [[10], [0], [-1]],
  [
    [784, 1000],
    [128, 256],
    [128, 128],
  ],
  [
    [784, 1000],
    [768, 0],
    [16, -1],
  ],
  [
    [784, 1000],
    [0, 896],
    [784, 104],
  ],
  [
    [5, 7],
    [2, 0],
    [3, 7],
  ],
  [
    [5, 7],
    [1, 2],
    [0, 3],
  ],
  [
    [4, 5, 6],
    [1, 2, 3],
    [2, 3, 3],
  ],
  [
    [3, 4, 5, 6],
    [1, 0, 2, 1],
    [2, 4, 2, 5],
  ],
  [
    [2, 3, 4, 5, 6],
    [1, 1, 0, 2, 3],
    [1, 2, 4, 3, 2],
  ],
];

async function slices(backend: string, dtype: 'float32' | 'int32' | 'bool') {
  await tf.setBackend(backend);
  return CASES.map(([shape, begin, size], i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Array.from(randomValues(n, i + 1), (v) =>
      dtype === 'float32' ? v : v > 0 ? 1 : -7,
    );
    const x = tf.tensor(dtype === 'bool' ? values.map((v) => v > 0) : values, shape, dtype);
    const s = tf.slice(x, begin, size);
    const result = { shape: s.shape, values: Array.from(s.dataSync()) };
    tf.dispose([x, s]);
    return result;
  });
}

for (const dtype of ['float32', 'int32', 'bool'] as const) {
  test(`wasm Slice override equals cpu's slices (${dtype})`, async () => {
    enableFastKernels();
    const expected = await slices('cpu', dtype);
    const actual = await slices('wasm', dtype);
    assert.ok(tf.getKernel('Slice', 'wasm') != null);
    actual.forEach((a, i) => assert.deepEqual(a, expected[i], `case ${i}: ${CASES[i]}`));
  });
}

test('wasm Slice override: slices stay right while the heap grows between them', async () => {
  enableFastKernels();
  await tf.setBackend('wasm');
  const x = tf.tensor2d(randomValues(300 * 200, 9), [300, 200]);
  const expected = Array.from(x.dataSync());
  const kept: tf.Tensor[] = [];
  for (let k = 0; k < 20; k++) {
    kept.push(tf.zeros([512, 1024])); // grows the wasm memory
    const s = tf.slice(x, [k, 2 * k], [7, 5]);
    const values = s.dataSync();
    for (let i = 0; i < 7; i++) {
      for (let j = 0; j < 5; j++) {
        assert.equal(values[i * 5 + j], expected[(k + i) * 200 + 2 * k + j]);
      }
    }
    s.dispose();
  }
  tf.dispose([x, ...kept]);
});
