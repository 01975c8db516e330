/**
 * Dataset loaders and generators on small files the tests write: IDX (raw and gzipped),
 * Fashion-MNIST directory layout, CIFAR-10/100 binaries, generated CURVES, and the name-based
 * entry point, including every malformed-input error.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIdx, readIdx } from '../src/data/idx.js';
import {
  DEBIAN_FASHION_MNIST_DIR,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  loadFashionMnist,
} from '../src/data/fashion-mnist.js';
import { CIFAR_STATISTICS, loadCifar, parseCifarRecords } from '../src/data/cifar.js';
import { CURVES_MEAN, CURVES_STD, generateCurves } from '../src/data/curves.js';
import { loadDataset } from '../src/data/load-dataset.js';

function idx(shape: number[], values: number[]): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  header[2] = 0x08;
  header[3] = shape.length;
  const view = new DataView(header.buffer);
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  return new Uint8Array([...header, ...values]);
}

const tmp = () => mkdtempSync(join(tmpdir(), 'eva-data-'));

test('IDX: raw and gzipped files parse to shape and bytes; malformed files name the problem', () => {
  const dir = tmp();
  const bytes = idx([2, 3], [1, 2, 3, 4, 5, 6]);
  writeFileSync(join(dir, 'a.idx'), bytes);
  writeFileSync(join(dir, 'a.idx.gz'), gzipSync(bytes));
  for (const file of ['a.idx', 'a.idx.gz']) {
    const parsed = readIdx(join(dir, file));
    assert.deepEqual(parsed.shape, [2, 3]);
    assert.deepEqual(Array.from(parsed.data), [1, 2, 3, 4, 5, 6]);
  }
  assert.throws(() => parseIdx(new Uint8Array([1, 0, 8, 1]), 'x'), /x: not an IDX file/);
  assert.throws(
    () => parseIdx(new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]), 'x'),
    /type 0xd is not supported/,
  );
  assert.throws(() => parseIdx(idx([2, 3], [1, 2, 3]), 'x'), /needs 6 value bytes, the file has 3/);
  assert.throws(
    () => parseIdx(new Uint8Array([0, 0, 8, 2, 0]), 'x'),
    /header of rank 2 is truncated/,
  );
  assert.throws(() => readIdx(join(dir, 'missing.idx')), /Cannot read IDX file .*missing\.idx/);
  writeFileSync(join(dir, 'bad.gz'), new Uint8Array([0x1f, 0x8b, 1, 2, 3]));
  assert.throws(() => readIdx(join(dir, 'bad.gz')), /bad\.gz: corrupt gzip data/);
});

function writeFashion(dir: string, train: number, testCount: number, gz: boolean): void {
  const images = (n: number, offset: number) =>
    idx(
      [n, 28, 28],
      Array.from({ length: n * 784 }, (_, i) => (i + offset) % 256),
    );
  const labels = (n: number) =>
    idx(
      [n],
      Array.from({ length: n }, (_, i) => i % 10),
    );
  const write = (name: string, data: Uint8Array) =>
    writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(data) : data);
  write('train-images-idx3-ubyte', images(train, 0));
  write('train-labels-idx1-ubyte', labels(train));
  write('t10k-images-idx3-ubyte', images(testCount, 7));
  write('t10k-labels-idx1-ubyte', labels(testCount));
}

test('Fashion-MNIST: reads a directory of IDX files (gz or not), normalises, limits, checks', () => {
  for (const gz of [true, false]) {
    const dir = tmp();
    writeFashion(dir, 5, 3, gz);
    const data = loadFashionMnist({ dataDir: dir, trainLimit: 4 });
    assert.equal(data.train.count, 4);
    assert.equal(data.test.count, 3);
    assert.equal(data.classes, 10);
    assert.deepEqual(Array.from(data.train.labels), [0, 1, 2, 3]);
    const expected = (100 / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD;
    assert.ok(Math.abs(data.train.images[100]! - expected) < 1e-6);
    assert.ok(Math.abs(data.test.images[0]! - (7 / 255 - 0.5) / 0.5) < 1e-6);
  }
  const dir = tmp();
  writeFashion(dir, 5, 3, false);
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idx([2], [1, 2]));
  assert.throws(() => loadFashionMnist({ dataDir: dir }), /expected 3 labels to match/);
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idx([3], [1, 2, 12]));
  assert.throws(() => loadFashionMnist({ dataDir: dir }), /label 12 of sample 2 is not in 0\.\.9/);
  assert.throws(
    () => loadFashionMnist({ dataDir: tmp() }),
    /Missing train-images-idx3-ubyte\[\.gz\] in/,
  );
});

test(
  'Fashion-MNIST from the Debian package when installed',
  { skip: existsSync(DEBIAN_FASHION_MNIST_DIR) ? false : 'dataset-fashion-mnist not installed' },
  () => {
    const data = loadFashionMnist({ trainLimit: 100, testLimit: 10 });
    assert.equal(data.train.count, 100);
    assert.equal(data.test.count, 10);
  },
);

function cifarRecord(labelBytes: number[], seed: number): number[] {
  return [...labelBytes, ...Array.from({ length: 3072 }, (_, i) => (i * 7 + seed) % 256)];
}

test('CIFAR-10/100: binary records become normalised channels-last images; errors are specific', () => {
  const dir = tmp();
  for (let b = 1; b <= 5; b++) {
    writeFileSync(
      join(dir, `data_batch_${b}.bin`),
      new Uint8Array([...cifarRecord([b], b), ...cifarRecord([9], 50 + b)]),
    );
  }
  writeFileSync(join(dir, 'test_batch.bin'), new Uint8Array(cifarRecord([3], 99)));
  const c10 = loadCifar('cifar10', { dataDir: dir, trainLimit: 7 });
  assert.equal(c10.train.count, 7);
  assert.deepEqual(Array.from(c10.train.labels), [1, 9, 2, 9, 3, 9, 4]);
  // Pixel (row 0, col 5) of record 0: channel c at byte c*1024 + 5.
  const { mean, std } = CIFAR_STATISTICS.cifar10;
  for (let c = 0; c < 3; c++) {
    const raw = ((c * 1024 + 5) * 7 + 1) % 256;
    assert.ok(Math.abs(c10.train.images[5 * 3 + c]! - (raw / 255 - mean[c]!) / std[c]!) < 1e-5);
  }
  assert.equal(c10.test.count, 1);
  const dir100 = join(tmp(), 'cifar-100-binary');
  mkdirSync(dir100);
  writeFileSync(
    join(dir100, 'train.bin'),
    new Uint8Array([...cifarRecord([3, 42], 1), ...cifarRecord([1, 99], 2)]),
  );
  writeFileSync(join(dir100, 'test.bin'), new Uint8Array(cifarRecord([0, 7], 3)));
  const c100 = loadCifar('cifar100', { dataDir: join(dir100, '..') });
  assert.deepEqual(Array.from(c100.train.labels), [42, 99]);
  assert.equal(c100.classes, 100);
  assert.throws(
    () => parseCifarRecords(new Uint8Array(100), 1, 'f.bin'),
    /f\.bin: 100 bytes is not a whole number of 3073-byte CIFAR records/,
  );
  assert.throws(
    () => parseCifarRecords(new Uint8Array(cifarRecord([10], 0)), 1, 'f.bin'),
    /record 0 has label 10, expected 0\.\.9/,
  );
  assert.throws(
    () => loadCifar('cifar10', { dataDir: tmp() }),
    /Missing CIFAR file .*data_batch_1\.bin/,
  );
});

test('CURVES: seeded, deterministic, smooth strokes with intensities in [0, 1]', () => {
  const raw = { trainCount: 20, testCount: 5, normalize: false };
  const a = generateCurves({ ...raw, seed: 3 });
  const b = generateCurves({ ...raw, seed: 3 });
  const c = generateCurves({ ...raw, seed: 4 });
  assert.deepEqual(a.train.images, b.train.images);
  assert.notDeepEqual(a.train.images, c.train.images);
  assert.equal(a.train.images.length, 20 * 784);
  assert.equal(a.test.count, 5);
  for (let n = 0; n < 20; n++) {
    const image = a.train.images.subarray(n * 784, (n + 1) * 784);
    assert.ok(image.every((v) => v >= 0 && v <= 1));
    const lit = image.filter((v) => v > 0.5).length;
    assert.ok(lit >= 10 && lit < 400, `image ${n}: ${lit} lit pixels is not a stroke`);
  }
  assert.throws(() => generateCurves({ trainCount: 0 }), /positive integers/);
});

test('CURVES: normalised by default to zero mean and unit deviation over the training pixels', () => {
  const raw = generateCurves({ trainCount: 2000, testCount: 5, normalize: false });
  const set = generateCurves({ trainCount: 2000, testCount: 5 });
  // Background and stroke pixels of both splits map by the same affine function.
  const stroke = raw.train.images.findIndex((v) => v > 0.5);
  const testStroke = raw.test.images.findIndex((v) => v > 0.5);
  for (const [split, i] of [
    ['train', 0],
    ['train', stroke],
    ['test', 7],
    ['test', testStroke],
  ] as const) {
    const expected = Math.fround((raw[split].images[i]! - CURVES_MEAN) / CURVES_STD);
    assert.equal(set[split].images[i], expected, `${split} pixel ${i}`);
  }
  const pixels = set.train.images;
  const mean = pixels.reduce((s, v) => s + v, 0) / pixels.length;
  const std = Math.sqrt(pixels.reduce((s, v) => s + (v - mean) ** 2, 0) / pixels.length);
  assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(std - 1) < 0.02, `std ${std}`);
});

test('loadDataset: names, limits and clear errors', () => {
  const mnist = loadDataset('mnist', { trainLimit: 50, testLimit: 20 });
  assert.equal(mnist.train.count, 50);
  assert.equal(mnist.test.count, 20);
  assert.equal(loadDataset('curves', { trainLimit: 8, testLimit: 4 }).train.count, 8);
  assert.throws(
    () => loadDataset('imagenet'),
    /Unknown dataset 'imagenet'; valid names are mnist, fashion-mnist, curves, cifar10, cifar100/,
  );
  assert.throws(() => loadDataset('cifar10'), /needs --data-dir/);
  assert.throws(() => loadDataset('mnist', { dataDir: '/x' }), /takes no --data-dir/);
});
