/**
 * K-FAC in a custom training loop (no model.fit): `tf.variableGrads` computes the loss and the
 * gradients, `optimizer.applyGradients` preconditions and applies them. The loop disposes every
 * tensor it creates and checks that `tf.memory().numTensors` does not grow from step to step.
 *
 * Run from the repository root:
 *
 *   node --conditions=eva-tfjs-source --import tsx examples/custom-loop-kfac/main.ts
 *
 * Exits with code 1 if the loss did not decrease or tensors leaked.
 */
import * as tf from '@tensorflow/tfjs';
import { createOptimizer, type KFAC } from 'eva-tfjs';

await tf.setBackend('cpu');

// --- Data: a smooth non-linear regression, y = sin(x w1) + 0.5 cos(x w2), x in R^6. ----------
const SAMPLES = 1024;
const BATCH = 128;
const STEPS = 40;
const [xs, ys] = tf.tidy(() => {
  const x = tf.randomUniform([SAMPLES, 6], -1, 1, 'float32', 7);
  const w1 = tf.randomNormal([6, 1], 0, 1, 'float32', 8);
  const w2 = tf.randomNormal([6, 1], 0, 1, 'float32', 9);
  const y = tf.add(tf.sin(tf.matMul(x, w1)), tf.mul(0.5, tf.cos(tf.matMul(x, w2))));
  return [x, y];
});

const init = (seed: number) => tf.initializers.glorotUniform({ seed });
const model = tf.sequential({
  layers: [
    tf.layers.dense({ inputShape: [6], units: 32, activation: 'tanh', kernelInitializer: init(1) }),
    tf.layers.dense({ units: 1, kernelInitializer: init(2) }),
  ],
});

// --- K-FAC by name: typed as KFAC, options checked at compile time and at run time. ----------
// It uses SGD with momentum 0.9 at `learningRate` as its base optimizer, and recomputes the
// inverses of its Kronecker factors every `invUpdateFreq` steps.
const optimizer: KFAC = createOptimizer('kfac', model, {
  learningRate: 0.05,
  invUpdateFreq: 10,
  damping: 0.03,
});

const lossFn = (x: tf.Tensor, y: tf.Tensor) => (): tf.Scalar =>
  // The forward pass runs INSIDE the function whose gradients are taken: that is where K-FAC
  // captures each layer's inputs and output gradients. (model.predict works here too.)
  tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;

const losses: number[] = [];
let tensorsAfterFirstStep = 0;
let leaked = false;

for (let step = 0; step < STEPS; step++) {
  const start = (step * BATCH) % SAMPLES;
  const xb = xs.slice([start, 0], [BATCH, -1]);
  const yb = ys.slice([start, 0], [BATCH, -1]);

  // One step: loss value plus a gradient per trainable variable, then the K-FAC update.
  const { value, grads } = tf.variableGrads(lossFn(xb, yb));
  optimizer.applyGradients(grads);

  const loss = (await value.data())[0] ?? Number.NaN;
  losses.push(loss);

  // Dispose what this step created: the batch, the loss and the gradients. The optimizer keeps
  // (and owns) its factors, inverses and momentum.
  tf.dispose([xb, yb, value, grads]);

  const numTensors = tf.memory().numTensors;
  // The first step allocates the optimizer's state; from then on the count must stay flat.
  if (step === 0) tensorsAfterFirstStep = numTensors;
  const growth = numTensors - tensorsAfterFirstStep;
  console.log(
    `step ${String(step + 1).padStart(2)}  loss ${loss.toFixed(5)}  tensors ${numTensors}` +
      (growth > 0 ? `  (+${growth} since step 1)` : ''),
  );
  if (growth > 0) leaked = true;
}

const first = losses[0] ?? Number.NaN;
const last = losses.at(-1) ?? Number.NaN;
console.log(`loss ${first.toFixed(5)} -> ${last.toFixed(5)} in ${STEPS} K-FAC steps`);

optimizer.dispose();
model.dispose();
tf.dispose([xs, ys]);

let ok = true;
if (leaked) {
  console.error('FAIL: tf.memory().numTensors grew across steps (a tensor leak)');
  ok = false;
}
if (!(Number.isFinite(last) && last < first)) {
  console.error('FAIL: the loss did not decrease');
  ok = false;
}
if (!ok) process.exit(1);
