/**
 * Eva with `model.compile` + `model.fit` in Node: a tiny autoencoder learns to compress
 * generated 12-dimensional data that lies on a 3-dimensional manifold.
 *
 * Run from the repository root:
 *
 *   node --conditions=eva-tfjs-source --import tsx examples/node-fit-eva/main.ts
 *
 * (`--conditions=eva-tfjs-source` makes `eva-tfjs` resolve to the workspace's TypeScript
 * sources; in your own project, `npm install eva-tfjs @tensorflow/tfjs` and run it with tsx or
 * compile it with tsc.) Exits with code 1 if the loss did not decrease.
 */
import * as tf from '@tensorflow/tfjs';
import { Eva } from 'eva-tfjs';

// The pure-JavaScript backend: works everywhere, no native install. (With
// @tensorflow/tfjs-backend-wasm, `enableFastKernels()` from eva-tfjs speeds training up.)
await tf.setBackend('cpu');

// --- Data: 512 samples x = tanh(z M) with z ~ N(0, 1)^3 and a fixed 3x12 matrix M. -----------
const SAMPLES = 512;
const FEATURES = 12;
const LATENT = 3;
const data = tf.tidy(() => {
  const z = tf.randomNormal([SAMPLES, LATENT], 0, 1, 'float32', 1);
  const m = tf.randomNormal([LATENT, FEATURES], 0, 1, 'float32', 2);
  return tf.tanh(tf.matMul(z, m));
});

// --- Model: 12 -> 8 -> 3 -> 8 -> 12. Eva preconditions every Dense layer. -------------------
const init = (seed: number) => tf.initializers.glorotUniform({ seed });
const model = tf.sequential({
  layers: [
    tf.layers.dense({
      inputShape: [FEATURES],
      units: 8,
      activation: 'tanh',
      kernelInitializer: init(3),
    }),
    tf.layers.dense({ units: LATENT, kernelInitializer: init(4) }), // the code
    tf.layers.dense({ units: 8, activation: 'tanh', kernelInitializer: init(5) }),
    tf.layers.dense({ units: FEATURES, kernelInitializer: init(6) }),
  ],
});

// --- Optimizer: Eva wraps the tfjs optimizer that applies the final update. -----------------
const optimizer = new Eva(model, tf.train.momentum(0.05, 0.9), {
  damping: 0.03, // gamma of the damped Kronecker-vector inverse
  factorDecay: 0.95, // running average of the statistics a and g
  klClip: 0.001, // KL clipping of the preconditioned step
});
model.compile({ optimizer, loss: 'meanSquaredError' });

// --- Train: statistics are captured during fit's gradient computation. ----------------------
const losses: number[] = [];
await model.fit(data, data, {
  epochs: 20,
  batchSize: 64,
  verbose: 0,
  callbacks: {
    onEpochEnd: (epoch, logs) => {
      const loss = logs?.loss ?? Number.NaN;
      losses.push(loss);
      console.log(`epoch ${String(epoch + 1).padStart(2)}  loss ${loss.toFixed(5)}`);
    },
  },
});

const first = losses[0] ?? Number.NaN;
const last = losses.at(-1) ?? Number.NaN;
console.log(`loss ${first.toFixed(5)} -> ${last.toFixed(5)} (${optimizer.getClassName()})`);

// Release everything (a long-running program would do this when done with the model).
optimizer.dispose();
model.dispose();
data.dispose();

if (!(Number.isFinite(last) && last < first)) {
  console.error('FAIL: the loss did not decrease');
  process.exit(1);
}
