/**
 * Benchmark (not a test): median training-step time of Eva over SGD on the paper's autoencoder,
 * measured alternately in one process on each backend, through model.trainOnBatch (the path
 * model.fit takes). Both use weight decay 5e-4 and momentum 0.9 with PyTorch semantics: SGD is
 * eva-tfjs's SGD, Eva wraps tf.train.momentum and adds the decay itself.
 *
 *   npx tsx bench/step-time.ts [--batch 250] [--steps 30] [--backends cpu,wasm]
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { createOptimizer } from '../src/optimizer/registry.js';
import { createAutoencoder } from '../src/models/autoencoder.js';
import { initializeLikePyTorch } from '../src/experiments/train-run.js';
import { setupBackend } from '../src/kernels/backend-setup.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '250' },
    steps: { type: 'string', default: '30' },
    backends: { type: 'string', default: 'cpu,wasm' },
    optimizers: { type: 'string', default: 'sgd,eva' },
  },
});
const batch = Number(values.batch);
const steps = Number(values.steps);
const names = values.optimizers!.split(',');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

console.log(
  `autoencoder 784-1000-500-250-30-250-500-1000-784, batch ${batch}, ${steps} timed steps per ` +
    'optimizer (cpu: at most 6) after 3 warm-up steps, alternating',
);
for (const backend of values.backends!.split(',')) {
  await setupBackend(backend);
  const x = tf.randomUniform([batch, 784]);
  const runs = names.map((name) => {
    const model = createAutoencoder();
    initializeLikePyTorch(model, 0);
    const optimizer = createOptimizer(name, model, {
      learningRate: 0.01,
      momentum: 0.9,
      weightDecay: 5e-4,
    });
    model.compile({ optimizer, loss: 'meanSquaredError' });
    return { name, model, optimizer, times: [] as number[] };
  });
  const cycles = backend === 'cpu' ? Math.min(steps, 6) : steps;
  for (let i = 0; i < cycles + 3; i++) {
    for (const run of runs) {
      const start = performance.now();
      await run.model.trainOnBatch(x, x);
      if (i >= 3) run.times.push(performance.now() - start);
    }
  }
  const base = median(runs[0]!.times);
  for (const run of runs) {
    const m = median(run.times);
    console.log(
      `${backend.padEnd(5)} ${run.name.padEnd(5)} median ${m.toFixed(1).padStart(8)} ms  (${run.times.length} steps)  ratio vs ${runs[0]!.name}: ${(m / base).toFixed(3)}`,
    );
    run.model.dispose();
    run.optimizer.dispose();
  }
  x.dispose();
}
