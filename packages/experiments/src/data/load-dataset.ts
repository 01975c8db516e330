/**
 * Every dataset of the experiments by name, for the CLI: the `mnist` package's digits (the
 * embedded default), Fashion-MNIST (IDX files, Debian's package by default), generated CURVES,
 * and CIFAR-10/100 (binary files from a user-given directory).
 */
import { loadCifar } from './cifar.js';
import { generateCurves } from './curves.js';
import { takeSamples, type Dataset } from './dataset.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { loadMnist } from './mnist.js';

/** The dataset names {@link loadDataset} accepts. */
export const DATASET_NAMES = ['mnist', 'fashion-mnist', 'curves', 'cifar10', 'cifar100'] as const;

/** A dataset name. */
export type DatasetName = (typeof DATASET_NAMES)[number];

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions {
  /** Directory of the files (Fashion-MNIST: default Debian's; CIFAR: required). */
  dataDir?: string;
  /** Use at most this many training / test samples. */
  trainLimit?: number;
  testLimit?: number;
  /** Seed of splits and generation (default 0). */
  seed?: number;
}

function limit(data: Dataset, train?: number, test?: number): Dataset {
  const pixels = data.height * data.width * data.channels;
  const cut = (set: Dataset['train'], n?: number) =>
    n == null || n >= set.count
      ? set
      : takeSamples(
          set,
          Array.from({ length: n }, (_, i) => i),
          pixels,
        );
  return { ...data, train: cut(data.train, train), test: cut(data.test, test) };
}

/** Loads dataset `name`; unknown names and missing files are clear errors. */
export function loadDataset(name: string, options: LoadDatasetOptions = {}): Dataset {
  const { dataDir, trainLimit, testLimit, seed } = options;
  switch (name) {
    case 'mnist':
      if (dataDir != null) {
        throw new Error("Dataset 'mnist' is the mnist package's digits and takes no --data-dir");
      }
      return limit(loadMnist({ seed }), trainLimit, testLimit);
    case 'fashion-mnist':
      return loadFashionMnist({ dataDir, trainLimit, testLimit });
    case 'curves':
      return generateCurves({ seed, trainCount: trainLimit, testCount: testLimit });
    case 'cifar10':
    case 'cifar100':
      if (dataDir == null) {
        throw new Error(
          `Dataset '${name}' needs --data-dir pointing at the binary distribution (no download)`,
        );
      }
      return loadCifar(name, { dataDir, trainLimit, testLimit });
    default:
      throw new Error(`Unknown dataset '${name}'; valid names are ${DATASET_NAMES.join(', ')}`);
  }
}
