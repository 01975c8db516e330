/**
 * CIFAR-10 and CIFAR-100 from the standard binary distributions in a user-given directory
 * (no download): CIFAR-10 `data_batch_1..5.bin` and `test_batch.bin`, records of 1 label byte
 * plus 3072 pixel bytes (red, green, blue planes of 32x32); CIFAR-100 `train.bin`/`test.bin`
 * with 2 label bytes (coarse, fine; the fine label is used). Images become channels-last
 * floats, normalised per channel with the usual statistics.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset, ImageSet } from './dataset.js';

/** Per-channel mean and std of CIFAR-10 and CIFAR-100 training images. */
export const CIFAR_STATISTICS = {
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] },
  cifar100: { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] },
} as const;

/** Which CIFAR. */
export type CifarVariant = keyof typeof CIFAR_STATISTICS;

/** Options of {@link loadCifar}. */
export interface CifarOptions {
  /** Directory with the .bin files (or its `cifar-10-batches-bin` / `cifar-100-binary` child). */
  dataDir: string;
  trainLimit?: number;
  testLimit?: number;
  /** Apply the per-channel normalisation (default true). */
  normalize?: boolean;
}

const PIXELS = 32 * 32;

function resolveDir(dir: string, variant: CifarVariant): string {
  const child = join(dir, variant === 'cifar10' ? 'cifar-10-batches-bin' : 'cifar-100-binary');
  return existsSync(child) ? child : dir;
}

/** Parses CIFAR binary records; `labelBytes` 1 (CIFAR-10) or 2 (CIFAR-100, fine label last). */
export function parseCifarRecords(
  bytes: Uint8Array,
  labelBytes: 1 | 2,
  source: string,
  limit = Infinity,
): ImageSet {
  const record = labelBytes + 3 * PIXELS;
  if (bytes.length === 0 || bytes.length % record !== 0) {
    throw new Error(
      `${source}: ${bytes.length} bytes is not a whole number of ${record}-byte CIFAR records`,
    );
  }
  const count = Math.min(bytes.length / record, limit);
  const images = new Float32Array(count * 3 * PIXELS);
  const labels = new Uint8Array(count);
  const classes = labelBytes === 1 ? 10 : 100;
  for (let n = 0; n < count; n++) {
    const base = n * record;
    const label = bytes[base + labelBytes - 1]!;
    if (label >= classes) {
      throw new Error(`${source}: record ${n} has label ${label}, expected 0..${classes - 1}`);
    }
    labels[n] = label;
    for (let p = 0; p < PIXELS; p++) {
      for (let c = 0; c < 3; c++) {
        images[(n * PIXELS + p) * 3 + c] = bytes[base + labelBytes + c * PIXELS + p]! / 255;
      }
    }
  }
  return { images, labels, count };
}

function concatSets(sets: ImageSet[]): ImageSet {
  const count = sets.reduce((n, s) => n + s.count, 0);
  const images = new Float32Array(count * 3 * PIXELS);
  const labels = new Uint8Array(count);
  let offset = 0;
  for (const s of sets) {
    images.set(s.images, offset * 3 * PIXELS);
    labels.set(s.labels, offset);
    offset += s.count;
  }
  return { images, labels, count };
}

function readRecords(path: string, labelBytes: 1 | 2, limit: number): ImageSet {
  if (!existsSync(path)) throw new Error(`Missing CIFAR file ${path}`);
  return parseCifarRecords(readFileSync(path), labelBytes, path, limit);
}

function normalizeChannels(set: ImageSet, mean: readonly number[], std: readonly number[]): void {
  const { images } = set;
  for (let i = 0; i < images.length; i++) images[i] = (images[i]! - mean[i % 3]!) / std[i % 3]!;
}

/** Loads CIFAR-10 or CIFAR-100 from `options.dataDir`. */
export function loadCifar(variant: CifarVariant, options: CifarOptions): Dataset {
  const dir = resolveDir(options.dataDir, variant);
  const trainLimit = options.trainLimit ?? Infinity;
  const testLimit = options.testLimit ?? Infinity;
  let train: ImageSet;
  let test: ImageSet;
  if (variant === 'cifar10') {
    const parts: ImageSet[] = [];
    let remaining = trainLimit;
    for (let b = 1; b <= 5 && remaining > 0; b++) {
      const part = readRecords(join(dir, `data_batch_${b}.bin`), 1, remaining);
      parts.push(part);
      remaining -= part.count;
    }
    train = concatSets(parts);
    test = readRecords(join(dir, 'test_batch.bin'), 1, testLimit);
  } else {
    train = readRecords(join(dir, 'train.bin'), 2, trainLimit);
    test = readRecords(join(dir, 'test.bin'), 2, testLimit);
  }
  if (options.normalize ?? true) {
    const { mean, std } = CIFAR_STATISTICS[variant];
    normalizeChannels(train, mean, std);
    normalizeChannels(test, mean, std);
  }
  return {
    name: variant,
    height: 32,
    width: 32,
    channels: 3,
    classes: variant === 'cifar10' ? 10 : 100,
    train,
    test,
  };
}
