/**
 * Benchmark (not a test) of the fast kernel overrides: training-step time of SGD and Eva per
 * backend before (the backends' own kernels, `disableFastKernels()`) and after
 * (`enableFastKernels()`), in one process, on the paper's autoencoder at batch 250 and 1000 and
 * on a small VGG-style CNN (32x32x3, batch 64; cpu: batch 16 and no batch-1000 run); then where a step's time goes (tf.profile,
 * per kernel) for the autoencoder at batch 250 on wasm, before and after, for SGD and Eva.
 *
 *   npx tsx bench/kernels.ts [--backends wasm,cpu] [--steps 10]
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import {
  setupBackend,
  benchmarkSteps,
  createModel,
  initializeLikePyTorch,
} from '@eva-tfjs/experiments';
import { disableFastKernels, enableFastKernels, createOptimizerByName } from 'eva-tfjs';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'wasm,cpu' },
    steps: { type: 'string', default: '10' },
  },
});
const steps = Number(values.steps);
const mnist = { name: 'mnist', height: 28, width: 28, channels: 1, classes: 10 };
const cifar = { name: 'cifar10', height: 32, width: 32, channels: 3, classes: 10 };
/** The cpu backend is ~30x slower: a smaller CNN batch and no batch-1000 run keep it in minutes. */
const casesFor = (backend: string) =>
  backend === 'cpu'
    ? [
        { model: 'autoencoder', data: mnist, batchSize: 250 },
        { model: 'vgg', data: cifar, batchSize: 16 },
      ]
    : [
        { model: 'autoencoder', data: mnist, batchSize: 250 },
        { model: 'autoencoder', data: mnist, batchSize: 1000 },
        { model: 'vgg', data: cifar, batchSize: 64 },
      ];

async function measure(
  c: ReturnType<typeof casesFor>[number],
  fast: boolean,
): Promise<Map<string, string>> {
  if (fast) enableFastKernels();
  else disableFastKernels();
  try {
    const rows = await benchmarkSteps({ ...c, steps, labels: ['sgd', 'eva'] });
    return new Map(rows.map((r) => [r.label, r.ms.toFixed(1)]));
  } catch (e) {
    const message = (e as Error).message.split('\n')[0]!.slice(0, 60);
    return new Map([
      ['sgd', `fails: ${message}`],
      ['eva', 'fails'],
    ]);
  }
}

console.log(
  `Step time in ms (median of up to ${steps} steps after 2 warm-up steps; slow runs: 3 steps)\n`,
);
console.log(
  '| backend | model | batch | SGD before | SGD after | Eva before | Eva after | Eva/SGD after |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const backend of values.backends!.split(',')) {
  await setupBackend(backend);
  for (const c of casesFor(backend)) {
    const before = await measure(c, false);
    const after = await measure(c, true);
    const ratio = Number(after.get('eva')) / Number(after.get('sgd'));
    console.log(
      `| ${backend} | ${c.model} | ${c.batchSize} | ${before.get('sgd')} | ${after.get('sgd')} | ` +
        `${before.get('eva')} | ${after.get('eva')} | ${ratio.toFixed(3)} |`,
    );
  }
}

/** Per-kernel time of one training step (after two warm-up steps). */
async function profile(optimizer: string, fast: boolean): Promise<Array<[string, number, number]>> {
  if (fast) enableFastKernels();
  else disableFastKernels();
  const { model } = createModel('autoencoder', { ...mnist, train: empty, test: empty });
  initializeLikePyTorch(model, 0);
  const opt = createOptimizerByName(optimizer, model, { learningRate: 0.01, weightDecay: 5e-4 });
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  const x = tf.randomUniform([250, 784]);
  for (let i = 0; i < 2; i++) await model.trainOnBatch(x, x);
  const info = await tf.profile(async () => {
    await model.trainOnBatch(x, x);
  });
  const byKernel = new Map<string, [number, number]>();
  for (const k of info.kernels) {
    const [ms, n] = byKernel.get(k.name) ?? [0, 0];
    byKernel.set(k.name, [ms + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0), n + 1]);
  }
  x.dispose();
  model.dispose();
  opt.dispose();
  return [...byKernel.entries()]
    .map(([name, [ms, n]]) => [name, ms, n] as [string, number, number])
    .sort((a, b) => b[1] - a[1]);
}
const empty = { images: new Float32Array(0), labels: new Uint8Array(0), count: 0 };

if (values.backends!.split(',').includes('wasm')) {
  await setupBackend('wasm');
  console.log(
    '\nWhere a step goes: autoencoder, batch 250, wasm, tf.profile of one step (kernel ms, calls)\n',
  );
  for (const optimizer of ['sgd', 'eva']) {
    for (const fast of [false, true]) {
      const kernels = await profile(optimizer, fast);
      const total = kernels.reduce((s, k) => s + k[1], 0);
      const top = kernels
        .slice(0, 5)
        .map(([name, ms, n]) => `${name} ${ms.toFixed(1)} (${n})`)
        .join(', ');
      console.log(
        `- ${optimizer}, ${fast ? 'after' : 'before'}: total ${total.toFixed(1)} ms; ${top}`,
      );
    }
  }
}
enableFastKernels();
