/**
 * Fashion-MNIST from its standard IDX files (`train-images-idx3-ubyte[.gz]`, ...), from a
 * directory the user gives or, when none is given, from Debian's `dataset-fashion-mnist`
 * package (`/usr/share/datasets/fashion-mnist`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { normalize, type Dataset, type ImageSet } from './dataset.js';
import { readIdx } from './idx.js';

/** Where Debian's `dataset-fashion-mnist` installs the files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Reference normalisation of Fashion-MNIST (mean, std). */
export const FASHION_MNIST_MEAN = 0.5;
export const FASHION_MNIST_STD = 0.5;

/** Options of {@link loadFashionMnist} and the other IDX-based loaders. */
export interface IdxDatasetOptions {
  /** Directory with the four IDX files (default: Debian's package directory). */
  dataDir?: string;
  /** Use only the first this-many training / test samples (default: all). */
  trainLimit?: number;
  testLimit?: number;
  /** Apply the reference normalisation (default true). */
  normalize?: boolean;
}

function findFile(dir: string, base: string): string {
  for (const candidate of [join(dir, base), join(dir, `${base}.gz`)]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(
    `Missing ${base}[.gz] in ${dir}` +
      (dir === DEBIAN_FASHION_MNIST_DIR
        ? " (install Debian's dataset-fashion-mnist package or pass --data-dir)"
        : ''),
  );
}

function readSplit(dir: string, prefix: string, limit: number | undefined): ImageSet {
  const imagesPath = findFile(dir, `${prefix}-images-idx3-ubyte`);
  const labelsPath = findFile(dir, `${prefix}-labels-idx1-ubyte`);
  const images = readIdx(imagesPath);
  const labels = readIdx(labelsPath);
  if (images.shape.length !== 3 || images.shape[1] !== 28 || images.shape[2] !== 28) {
    throw new Error(`${imagesPath}: expected images of shape [n, 28, 28], got [${images.shape}]`);
  }
  if (labels.shape.length !== 1 || labels.shape[0] !== images.shape[0]) {
    throw new Error(
      `${labelsPath}: expected ${images.shape[0]} labels to match ${imagesPath}, got shape [${labels.shape}]`,
    );
  }
  const count = Math.min(images.shape[0]!, limit ?? Infinity);
  const pixels = 28 * 28;
  const values = new Float32Array(count * pixels);
  for (let i = 0; i < values.length; i++) values[i] = images.data[i]! / 255;
  const labelValues = labels.data.slice(0, count);
  for (const [i, label] of labelValues.entries()) {
    if (label > 9) throw new Error(`${labelsPath}: label ${label} of sample ${i} is not in 0..9`);
  }
  return { images: values, labels: labelValues, count };
}

/** Loads Fashion-MNIST (train 60,000 / test 10,000 unless limited), pixels in [0, 1] normalised. */
export function loadFashionMnist(options: IdxDatasetOptions = {}): Dataset {
  const dir = options.dataDir ?? DEBIAN_FASHION_MNIST_DIR;
  const train = readSplit(dir, 'train', options.trainLimit);
  const test = readSplit(dir, 't10k', options.testLimit);
  if (options.normalize ?? true) {
    normalize(train, FASHION_MNIST_MEAN, FASHION_MNIST_STD);
    normalize(test, FASHION_MNIST_MEAN, FASHION_MNIST_STD);
  }
  return { name: 'fashion-mnist', height: 28, width: 28, channels: 1, classes: 10, train, test };
}
