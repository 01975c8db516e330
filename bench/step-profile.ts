/**
 * Benchmark (not a test): where one training step of the paper's autoencoder goes on wasm with
 * the fast kernels, per kernel (tf.profile, kernel milliseconds summed over a few profiled
 * steps), each matrix product listed with its operand shapes, for SGD and Eva (or the labels of
 * `--optimizers`, `name[@N][+option]` as bench/step-time.ts takes them). `tf.profile`
 * times every kernel separately, so its total exceeds an unprofiled step's time; read shares.
 *
 *   node --conditions=eva-tfjs-source --import tsx bench/step-profile.ts [--batch 250] [--steps 3] [--top 25]
 *       [--optimizers sgd,eva]
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import {
  setupBackend,
  createModel,
  initializeLikePyTorch,
  parseBenchmarkLabel,
} from '@eva-tfjs/experiments';
import { createOptimizerByName, enableFastKernels } from 'eva-tfjs';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '250' },
    steps: { type: 'string', default: '3' },
    top: { type: 'string', default: '25' },
    optimizers: { type: 'string', default: 'sgd,eva' },
  },
});
const batch = Number(values.batch);
const steps = Number(values.steps);
await setupBackend('wasm');
enableFastKernels();
const mnist = { name: 'mnist', height: 28, width: 28, channels: 1, classes: 10 };
const empty = { images: new Float32Array(0), labels: new Uint8Array(0), count: 0 };
const MATMULS = new Set(['BatchMatMul', '_FusedMatMul']);

for (const optimizer of values.optimizers!.split(',')) {
  const { name, interval, switches } = parseBenchmarkLabel(optimizer);
  const { model } = createModel('autoencoder', { ...mnist, train: empty, test: empty });
  initializeLikePyTorch(model, 0);
  const opt = createOptimizerByName(name, model, {
    learningRate: 0.01,
    weightDecay: 5e-4,
    ...(interval ? { invUpdateFreq: interval } : {}),
    ...Object.fromEntries(switches.map((option) => [option, true])),
  });
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  const x = tf.randomUniform([batch, 784]);
  for (let i = 0; i < 2; i++) await model.trainOnBatch(x, x);
  const byKernel = new Map<string, { ms: number; calls: number }>();
  let launches = 0;
  for (let s = 0; s < steps; s++) {
    const info = await tf.profile(async () => {
      await model.trainOnBatch(x, x);
    });
    for (const k of info.kernels) {
      const key = MATMULS.has(k.name) ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
      const entry = byKernel.get(key) ?? { ms: 0, calls: 0 };
      entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      entry.calls += 1;
      byKernel.set(key, entry);
      launches += 1;
    }
  }
  const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((sum, [, e]) => sum + e.ms, 0) / steps;
  const products = rows.filter(([k]) => MATMULS.has(k.split(' ')[0]!));
  const productMs = products.reduce((sum, [, e]) => sum + e.ms, 0) / steps;
  console.log(
    `\n${optimizer}, batch ${batch}: ${total.toFixed(1)} kernel ms per step, ${launches / steps} ` +
      `launches; matrix products ${productMs.toFixed(1)} ms (${((100 * productMs) / total).toFixed(0)}%)\n`,
  );
  console.log('| kernel (operand shapes) | ms per step | share | calls per step |');
  console.log('|---|---|---|---|');
  for (const [key, e] of rows.slice(0, Number(values.top))) {
    const ms = e.ms / steps;
    console.log(
      `| ${key} | ${ms.toFixed(2)} | ${((100 * ms) / total).toFixed(1)}% | ${e.calls / steps} |`,
    );
  }
  tf.dispose([x]);
  model.dispose();
  opt.dispose();
}
