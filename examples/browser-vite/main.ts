/**
 * Eva in the browser: a tiny autoencoder trains with `model.fit` in the page, the loss of every
 * epoch is written into the page, and `window.__done` / `window.__result` tell an automated
 * browser (scripts/run-examples.ts) that training finished.
 *
 * `?backend=cpu` (or `webgl`) chooses the TensorFlow.js backend; by default tfjs picks the best
 * available one (WebGL where there is a GPU).
 */
import * as tf from '@tensorflow/tfjs';
import { Eva } from 'eva-tfjs';

interface TrainingResult {
  backend: string;
  first: number;
  last: number;
  losses: number[];
}

declare global {
  interface Window {
    /** Set when training ends (successfully or not). */
    __done?: boolean;
    __result?: TrainingResult;
    __error?: string;
  }
}

const status = document.querySelector<HTMLElement>('#status')!;
const log = document.querySelector<HTMLElement>('#log')!;

async function train(): Promise<TrainingResult> {
  const requested = new URLSearchParams(location.search).get('backend');
  if (requested) await tf.setBackend(requested);
  await tf.ready();
  const backend = tf.getBackend();
  status.textContent = `training on ${backend}...`;

  // Data on a 3-dimensional manifold in 12 dimensions: x = tanh(z M).
  const data = tf.tidy(() => {
    const z = tf.randomNormal([512, 3], 0, 1, 'float32', 1);
    const m = tf.randomNormal([3, 12], 0, 1, 'float32', 2);
    return tf.tanh(tf.matMul(z, m));
  });

  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [12],
        units: 8,
        activation: 'tanh',
        kernelInitializer: init(3),
      }),
      tf.layers.dense({ units: 3, kernelInitializer: init(4) }),
      tf.layers.dense({ units: 8, activation: 'tanh', kernelInitializer: init(5) }),
      tf.layers.dense({ units: 12, kernelInitializer: init(6) }),
    ],
  });

  // Eva wraps the tfjs optimizer that applies the final update; it is a tf.Optimizer, so
  // model.compile takes it as it is.
  const optimizer = new Eva(model, tf.train.momentum(0.05, 0.9), { damping: 0.03 });
  model.compile({ optimizer, loss: 'meanSquaredError' });

  const losses: number[] = [];
  await model.fit(data, data, {
    epochs: 15,
    batchSize: 64,
    callbacks: {
      onEpochEnd: (epoch, logs) => {
        const loss = logs?.loss ?? Number.NaN;
        losses.push(loss);
        log.textContent += `epoch ${epoch + 1}: loss ${loss.toFixed(5)}\n`;
      },
    },
  });

  optimizer.dispose();
  model.dispose();
  data.dispose();
  return { backend, first: losses[0] ?? Number.NaN, last: losses.at(-1) ?? Number.NaN, losses };
}

train()
  .then((result) => {
    status.textContent =
      `Eva on ${result.backend}: loss ${result.first.toFixed(5)} -> ${result.last.toFixed(5)} ` +
      `in ${result.losses.length} epochs`;
    window.__result = result;
  })
  .catch((error: unknown) => {
    status.textContent = `training failed: ${String(error)}`;
    window.__error = String(error);
  })
  .finally(() => {
    window.__done = true;
  });
