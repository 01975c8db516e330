/**
 * The fast kernel overrides give the same results as independent references: wasm BatchMatMul
 * with every transpose flag against the cpu backend, Conv2DBackpropFilter (added to wasm,
 * replacing cpu's naive loop) against an explicit float64 sum, and the depthwise gradients
 * added to wasm against cpu's own kernels, across strides, paddings and multipliers.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { disableFastKernels, enableFastKernels } from '../../src/index.js';
import { assertClose, randomValues } from '../helpers.js';

function filterGradReference(
  x: Float32Array,
  xShape: [number, number, number, number],
  dy: Float32Array,
  filterShape: [number, number, number, number],
  info: tf.backend_util.Conv2DInfo,
): number[] {
  const [n, h, w, c] = xShape;
  const [kh, kw, , o] = filterShape;
  const out = new Array(kh * kw * c * o).fill(0);
  const { outHeight, outWidth, strideHeight, strideWidth } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < n; b++)
    for (let p = 0; p < outHeight; p++)
      for (let q = 0; q < outWidth; q++)
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) {
            const y = p * strideHeight + i - top;
            const xx = q * strideWidth + j - left;
            if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
            for (let ci = 0; ci < c; ci++)
              for (let oi = 0; oi < o; oi++)
                out[((i * kw + j) * c + ci) * o + oi] +=
                  x[((b * h + y) * w + xx) * c + ci]! *
                  dy[((b * outHeight + p) * outWidth + q) * o + oi]!;
          }
  return out;
}

test('enableFastKernels is idempotent, lists its overrides; disableFastKernels restores', () => {
  const original = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
  const first = enableFastKernels();
  assert.deepEqual(enableFastKernels(), first);
  assert.notEqual(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc, original);
  assert.deepEqual(disableFastKernels().sort(), [...first].sort());
  assert.equal(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc, original);
  assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm'), undefined, 'wasm had none');
  assert.deepEqual(enableFastKernels(), first);
  assert.ok(first.includes('wasm/BatchMatMul'));
  assert.ok(first.includes('wasm/Conv2DBackpropFilter'));
  assert.ok(first.includes('cpu/Conv2DBackpropFilter'));
});

for (const backend of ['wasm', 'cpu']) {
  for (const [padding, stride, filterShape] of [
    ['same', 1, [3, 3, 3, 4]],
    ['same', 2, [3, 2, 3, 4]],
    ['valid', 2, [3, 3, 3, 2]],
    ['valid', 3, [2, 2, 3, 5]],
  ] as const) {
    test(`${backend} Conv2DBackpropFilter matches the explicit sum (${padding}, stride ${stride}, filter ${filterShape})`, async () => {
      enableFastKernels();
      await tf.setBackend(backend);
      const xShape: [number, number, number, number] = [2, 7, 6, 3];
      const info = tf.backend_util.computeConv2DInfo(
        xShape,
        [...filterShape] as [number, number, number, number],
        stride,
        1,
        padding,
      );
      const dyShape = [2, info.outHeight, info.outWidth, filterShape[3]];
      const xv = randomValues(2 * 7 * 6 * 3, 70);
      const dyv = randomValues(
        dyShape.reduce((a, b) => a * b, 1),
        71,
      );
      const x = tf.tensor4d(xv, xShape);
      const dy = tf.tensor4d(dyv, dyShape as [number, number, number, number]);
      const before = tf.memory().numTensors;
      const dw = tf.engine().runKernel(
        'Conv2DBackpropFilter',
        { x, dy },
        {
          strides: [stride, stride],
          pad: padding,
          dataFormat: 'NHWC',
          filterShape: [...filterShape],
        },
      ) as tf.Tensor;
      assert.deepEqual(dw.shape, [...filterShape]);
      assertClose(
        Array.from(dw.dataSync()),
        filterGradReference(xv, xShape, dyv, [...filterShape], info),
        1e-5,
        'dW',
      );
      dw.dispose();
      assert.equal(tf.memory().numTensors, before);
      tf.dispose([x, dy]);
    });
  }
}

test('wasm BatchMatMul with transpose flags equals the cpu result', async () => {
  enableFastKernels();
  const cases: Array<[number[], number[], boolean, boolean]> = [
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[2, 7, 5], [2, 3, 7], true, true],
  ];
  for (const [aShape, bShape, ta, tb] of cases) {
    const av = randomValues(
      aShape.reduce((p, q) => p * q, 1),
      80,
    );
    const bv = randomValues(
      bShape.reduce((p, q) => p * q, 1),
      81,
    );
    const results: number[][] = [];
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      const r = tf.tidy(() => tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), ta, tb));
      results.push(Array.from(r.dataSync()));
      r.dispose();
    }
    assertClose(results[1]!, results[0]!, 1e-5, `${aShape} x ${bShape} ${ta} ${tb}`);
  }
});

for (const [padding, stride, dilation, filterShape] of [
  ['same', 1, 1, [3, 3, 3, 1]],
  ['same', 2, 1, [3, 3, 3, 2]],
  ['valid', 2, 1, [2, 3, 3, 3]],
  ['same', 3, 1, [2, 2, 3, 4]],
  // tfjs has no gradient for dilated depthwise convolutions, so dilation stays 1 here.
] as const) {
  test(`wasm depthwise conv gradients (added kernels) match cpu's (${padding}, stride ${stride}, dilation ${dilation}, filter ${filterShape})`, async () => {
    enableFastKernels();
    const xv = randomValues(2 * 7 * 8 * 3, 80);
    const wv = randomValues(
      (filterShape as readonly number[]).reduce((a, b) => a * b, 1),
      81,
    );
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(xv, [2, 7, 8, 3]);
      const w = tf.tensor4d(wv, [...filterShape]);
      const before = tf.memory().numTensors;
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.square(
            tf.depthwiseConv2d(
              a as tf.Tensor4D,
              b as tf.Tensor4D,
              stride,
              padding,
              'NHWC',
              dilation,
            ),
          ),
        );
      const [dx, dw] = tf.grads(f)([x, w]);
      const out = { dx: Array.from(dx!.dataSync()), dw: Array.from(dw!.dataSync()) };
      tf.dispose([dx!, dw!]);
      assert.equal(tf.memory().numTensors, before, `${backend}: no leaked intermediates`);
      tf.dispose([x, w]);
      return out;
    };
    const reference = await grads('cpu');
    const fast = await grads('wasm');
    assertClose(fast.dw, reference.dw, 1e-4, 'dW');
    assertClose(fast.dx, reference.dx, 1e-4, 'dx');
  });
}

test('a VGG-style CNN (BatchNorm, pooling) trains on wasm with Eva through the added kernels', async () => {
  enableFastKernels();
  await tf.setBackend('wasm');
  const { createVgg } = await import('@eva-tfjs/experiments');
  const { createOptimizer } = await import('../../src/index.js');
  const model = createVgg({ height: 8, width: 8, channels: 3, classes: 3 }, [4, 8]);
  const opt = createOptimizer('eva', model, { learningRate: 0.05 });
  model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
  const x = tf.tensor4d(randomValues(16 * 8 * 8 * 3, 90), [16, 8, 8, 3]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32'), 3);
  const before = model.getWeights().map((w) => w.clone());
  const history = await model.fit(x, y, { batchSize: 8, epochs: 2, verbose: 0 });
  assert.ok((history.history.loss as number[]).every(Number.isFinite));
  // The first weight is the first convolution's kernel: it only moves through its gradient.
  const moved = tf.tidy(
    () => tf.max(tf.abs(tf.sub(model.getWeights()[0]!, before[0]!))).dataSync()[0]!,
  );
  assert.ok(moved > 0, 'the first convolution kernel moved');
  tf.dispose([x, y, ...before]);
  opt.dispose();
  model.dispose();
});

test('WebGPU AddN past 7 inputs: summed in chunks the shader can bind (a stand-in backend with the 4.22 bug)', async () => {
  // Node has no WebGPU: a cpu backend registered as 'webgpu' whose AddN, like
  // tfjs-backend-webgpu 4.22's, returns zeros past 7 inputs.
  const cpuAddN = tf.getKernel('AddN', 'cpu')!;
  tf.registerBackend(
    'webgpu',
    () => new (tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend)(),
  );
  tf.registerKernel({
    kernelName: 'AddN',
    backendName: 'webgpu',
    kernelFunc: (args) => {
      const out = cpuAddN.kernelFunc(args) as tf.TensorInfo;
      if ((args.inputs as unknown as tf.TensorInfo[]).length <= 7) return out;
      const backend = args.backend as tf.KernelBackend & {
        makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
      };
      const zeros = backend.makeTensorInfo(
        out.shape,
        'float32',
        new Float32Array(tf.util.sizeFromShape(out.shape)),
      );
      (args.backend as tf.KernelBackend).disposeData(out.dataId);
      return zeros;
    },
  });
  for (const name of tf.getKernelsForBackend('cpu')) {
    if (name.kernelName !== 'AddN') tf.registerKernel({ ...name, backendName: 'webgpu' });
  }
  await tf.ready();
  const previous = tf.getBackend();
  try {
    await tf.setBackend('webgpu');
    const terms = Array.from({ length: 20 }, (_, i) => tf.fill([3], i + 1));
    const sum = (inputs = terms) => {
      const total = tf.addN(inputs);
      const values = Array.from(total.dataSync());
      total.dispose();
      return values;
    };
    disableFastKernels();
    assert.deepEqual(sum(), [0, 0, 0], 'the stand-in reproduces the bug');
    assert.ok(enableFastKernels().includes('webgpu/AddN'));
    const before = tf.memory().numTensors;
    assert.deepEqual(sum(), [210, 210, 210]);
    assert.equal(tf.memory().numTensors, before, 'partial sums released');
    assert.deepEqual(sum(terms.slice(0, 7)), [28, 28, 28], '7 inputs: the original kernel');
    tf.dispose(terms);
  } finally {
    await tf.setBackend(previous);
    disableFastKernels();
    for (const k of tf.getKernelsForBackend('webgpu')) tf.unregisterKernel(k.kernelName, 'webgpu');
    tf.removeBackend('webgpu');
    enableFastKernels();
  }
});
