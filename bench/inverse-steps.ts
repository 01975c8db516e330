/**
 * Benchmark (not a test): where the time of an optimizer with an inverse interval goes on the
 * paper's autoencoder (batch 250, random inputs, as bench/step-time.ts). Labels are
 * `name[@interval][:linalg]`, e.g. `kfac@10:host`; runs alternate step by step in one process.
 * For each it prints the median of the steps without inverse work and of the inverse steps,
 * relative to SGD's median step, and the extra cost of one inverse refresh in SGD steps.
 *
 *   node --conditions=eva-tfjs-source --import tsx bench/inverse-steps.ts \
 *       [--labels sgd,kfac@10:blocked,kfac@10:host,foof@10:blocked,foof@10:host] [--steps 40]
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import {
  benchmarkData,
  createModel,
  initializeLikePyTorch,
  setupBackend,
} from '@eva-tfjs/experiments';
import { createOptimizerByName, optimizerOptionNames } from 'eva-tfjs';

const { values: args } = parseArgs({
  options: {
    labels: {
      type: 'string',
      default: 'sgd,kfac@10:blocked,kfac@10:host,foof@10:blocked,foof@10:host',
    },
    steps: { type: 'string', default: '40' },
    backend: { type: 'string', default: 'wasm' },
  },
});

const WARMUP = 2;
const emptySet = { images: new Float32Array(0), labels: new Uint8Array(0), count: 0 };

await setupBackend(args.backend!);
const data = { ...benchmarkData('autoencoder'), train: emptySet, test: emptySet };
const x = tf.randomUniform([250, 784]);
const runs = args.labels!.split(',').map((label) => {
  const [withInterval, linalg] = label.split(':') as [string, string | undefined];
  const [name, interval] = withInterval.split('@') as [string, string | undefined];
  const { model } = createModel('autoencoder', data);
  initializeLikePyTorch(model, 0);
  const accepted = new Set(optimizerOptionNames(name));
  const optimizer = createOptimizerByName(name, model, {
    learningRate: 0.01,
    momentum: accepted.has('momentum') ? 0.9 : undefined,
    weightDecay: 5e-4,
    ...(interval ? { invUpdateFreq: Number(interval) } : {}),
    ...(linalg ? { linalg } : {}),
  });
  model.compile({ optimizer, loss: 'meanSquaredError' });
  const every = Number(interval ?? 0);
  return {
    label,
    model,
    optimizer,
    interval: every,
    inverse: [] as number[],
    other: [] as number[],
  };
});
const steps = Number(args.steps) + WARMUP;
for (let step = 0; step < steps; step++) {
  for (const run of runs) {
    const start = performance.now();
    await run.model.trainOnBatch(x, x);
    const ms = performance.now() - start;
    if (step < WARMUP) continue;
    (run.interval > 0 && step % run.interval === 0 ? run.inverse : run.other).push(ms);
  }
  process.stderr.write(`step ${step + 1}/${steps}\r`);
}
const median = (xs: number[]) =>
  xs.length === 0 ? Number.NaN : [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const sgd = median(runs.find((r) => r.label === 'sgd')?.other ?? runs[0]!.other);
console.log(`\n${args.backend}, autoencoder, batch 250, ${args.steps} steps per run\n`);
console.log(
  '| run | other steps ms | / SGD | inverse steps ms (count) | / SGD | one refresh, SGD steps |',
);
console.log('|---|---|---|---|---|---|');
for (const run of runs) {
  const other = median(run.other);
  const inverse = median(run.inverse);
  const ratio = (ms: number) => (Number.isNaN(ms) ? '-' : (ms / sgd).toFixed(2));
  console.log(
    `| ${run.label} | ${other.toFixed(0)} | ${ratio(other)} | ` +
      `${Number.isNaN(inverse) ? '-' : `${inverse.toFixed(0)} (${run.inverse.length})`} | ` +
      `${ratio(inverse)} | ${Number.isNaN(inverse) ? '-' : ((inverse - other) / sgd).toFixed(2)} |`,
  );
}
for (const run of runs) {
  run.model.dispose();
  run.optimizer.dispose();
}
x.dispose();
