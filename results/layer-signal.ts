/**
 * How much of the input reaches each layer of a trained autoencoder: per layer, the share of
 * units active (> 0) on at least one test image and the variance of the layer's outputs across
 * test images (mean over units). A variance that falls by orders of magnitude towards the output
 * means the reconstruction barely depends on the input: the network outputs about the mean image.
 * Prints a Markdown table (the CURVES reading in results/README.md quotes it).
 *
 *   node --conditions=eva-tfjs-source --import tsx results/layer-signal.ts <data> <run dir>...
 *
 * `<data>` is `curves` or `curves-unnormalised` (1,000 test images of the seeded generator).
 */
import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '@eva-tfjs/experiments';
import { loadCheckpoint } from '../packages/experiments/src/experiments/checkpoint.js';
import { createAutoencoder } from '../packages/experiments/src/models/autoencoder.js';
import { generateCurves } from '../packages/experiments/src/data/curves.js';

async function main(): Promise<void> {
  const [data, ...dirs] = process.argv.slice(2);
  if (data == null || !['curves', 'curves-unnormalised'].includes(data) || dirs.length === 0) {
    throw new Error('usage: layer-signal.ts curves|curves-unnormalised <run dir>...');
  }
  await setupBackend('cpu');
  const images = generateCurves({
    trainCount: 1,
    testCount: 1000,
    normalize: data === 'curves',
  }).test.images;
  const input = tf.tensor2d(images, [1000, 784]);
  console.log('| run | per layer: active units, output variance across images |');
  console.log('|---|---|');
  for (const dir of dirs) {
    const { modelWeights } = loadCheckpoint(`${dir}/checkpoint`);
    const model = createAutoencoder();
    model.setWeights(modelWeights);
    tf.dispose(modelWeights);
    const cells = tf.tidy(() => {
      let h: tf.Tensor = input;
      return model.layers.map((layer) => {
        h = layer.apply(h) as tf.Tensor;
        const active = tf.mean(tf.cast(tf.greater(tf.max(h, 0), 0), 'float32')).dataSync()[0]!;
        const variance = tf.mean(tf.moments(h, 0).variance).dataSync()[0]!;
        return `${active.toFixed(2)} ${variance.toExponential(1)}`;
      });
    });
    model.dispose();
    console.log(`| ${dir.replace(/^.*results\//, '')} | ${cells.join(', ')} |`);
  }
  input.dispose();
}

await main();
