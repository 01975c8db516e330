/**
 * The MNIST digits the demo trains on: `digits.bin` (written by scripts/pack-digits.ts) holds a
 * little-endian uint32 count, `count` labels and `count` 28x28 images of bytes. Pixels are
 * normalised with MNIST's mean and standard deviation; the last {@link TEST_SAMPLES} digits are
 * held out and shown with their reconstructions.
 */
import * as tf from '@tensorflow/tfjs';

const MNIST_MEAN = 0.1307;
const MNIST_STD = 0.3081;
const PIXELS = 784;
const CLASSES = 10;

/** How many held-out test digits are shown. */
export const TEST_SAMPLES = 8;

/** The decoded digits: pixels on the current backend, labels on the host. */
export interface Digits {
  /** `[count, 784]` normalised pixels. */
  x: tf.Tensor2D;
  labels: Uint8Array;
  count: number;
}

/** Fetches and decodes `digits.bin` next to the page. */
export async function loadDigits(): Promise<Digits> {
  const response = await fetch(new URL('digits.bin', document.baseURI));
  if (!response.ok) throw new Error(`digits.bin: HTTP ${response.status} (run npm run web)`);
  return decodeDigits(new Uint8Array(await response.arrayBuffer()));
}

/** Decodes the bytes of `digits.bin` (see the file's header) into normalised digits. */
export function decodeDigits(bytes: Uint8Array): Digits {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes.length >= 4 ? view.getUint32(0, true) : 0;
  if (count === 0 || bytes.length !== 4 + count + count * PIXELS) {
    throw new Error(
      `digits.bin: ${bytes.length} bytes do not hold a count, labels and 28x28 digits`,
    );
  }
  const labels = bytes.slice(4, 4 + count);
  const pixels = new Float32Array(count * PIXELS);
  for (let i = 0; i < pixels.length; i++)
    pixels[i] = (bytes[4 + count + i]! / 255 - MNIST_MEAN) / MNIST_STD;
  return { x: tf.tensor2d(pixels, [count, PIXELS]), labels, count };
}

/** A grey level in 0..255 from a normalised pixel value. */
export function grayLevel(value: number): number {
  return Math.max(0, Math.min(255, Math.round((value * MNIST_STD + MNIST_MEAN) * 255)));
}

/** The held-out test digits, `[TEST_SAMPLES, 784]` (a new tensor). */
export function testBatch(digits: Digits): tf.Tensor2D {
  return tf.slice(digits.x, [digits.count - TEST_SAMPLES, 0], [TEST_SAMPLES, PIXELS]);
}

/** One training batch: inputs, and targets (the inputs themselves for the autoencoder). */
export interface Batch {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
  dispose(): void;
}

/**
 * Training batch number `step` of `size` digits (cycling through the training digits), with
 * one-hot labels as targets when `classifier`, else the images themselves.
 */
export function trainingBatch(
  digits: Digits,
  step: number,
  size: number,
  classifier: boolean,
): Batch {
  const trainCount = digits.count - TEST_SAMPLES;
  const start = (step * size) % Math.max(1, trainCount - size);
  const x = tf.slice(digits.x, [start, 0], [size, PIXELS]);
  const y = classifier
    ? tf.tidy(() => {
        const labels = tf.tensor1d(digits.labels.subarray(start, start + size), 'int32');
        return tf.cast(tf.oneHot(labels, CLASSES), 'float32') as tf.Tensor2D;
      })
    : x;
  return {
    x,
    y,
    dispose() {
      x.dispose();
      if (y !== x) y.dispose();
    },
  };
}
