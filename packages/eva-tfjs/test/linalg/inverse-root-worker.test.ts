/**
 * The inverse-root worker thread against the same float64 roots computed on the calling thread,
 * over several requests (matrices of orders 1 to 40, exponents 2 to 6); a failed request's
 * message, and the thread still serving afterwards; misuse errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inverseRootFloat64, symmetricUpper } from '../../src/linalg/inverse-root-float64.js';
import { InverseRootWorker } from '../../src/linalg/inverse-root-worker.js';
import { randomValues } from '../helpers.js';

const sizes = [1, 3, 17, 40];
const exponents = [2, 4, 6, 4];
const total = sizes.reduce((s, n) => s + n * n, 0);

/** Random PSD matrices `R R^T` (rank-deficient for the 40 x 40: R is 40 x 12), concatenated. */
function request(seed: number): Float32Array {
  const out = new Float32Array(total);
  let offset = 0;
  sizes.forEach((n, i) => {
    const k = n === 40 ? 12 : n;
    const r = randomValues(n * k, seed + i);
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        let sum = 0;
        for (let c = 0; c < k; c++) sum += r[a * k + c]! * r[b * k + c]!;
        out[offset + a * n + b] = sum;
      }
    }
    offset += n * n;
  });
  return out;
}

function expected(matrices: Float32Array, ridge: number): Float32Array {
  const out = new Float32Array(total);
  let offset = 0;
  sizes.forEach((n, i) => {
    out.set(
      inverseRootFloat64(symmetricUpper(matrices, offset, n), n, exponents[i]!, ridge),
      offset,
    );
    offset += n * n;
  });
  return out;
}

test('the worker thread computes the same float64 roots as the calling thread', () => {
  assert.ok(InverseRootWorker.isSupported());
  const worker = new InverseRootWorker(sizes, exponents, 'Test');
  try {
    for (const [seed, ridge] of [
      [1, 1e-3],
      [2, 1e-6],
      [3, 0],
    ] as const) {
      const matrices = request(seed * 10);
      worker.submit(matrices, ridge);
      assert.ok(worker.busy);
      const roots = worker.wait();
      assert.ok(!worker.busy);
      assert.deepEqual(roots, expected(matrices, ridge), `request ${seed}`);
    }
  } finally {
    worker.terminate();
  }
});

test("a failed request reports the thread's message; the thread serves the next one", () => {
  const worker = new InverseRootWorker(sizes, exponents, 'Test');
  try {
    const bad = request(5);
    bad[1 + 9 + 5] = NaN;
    worker.submit(bad, 1e-3);
    assert.throws(
      () => worker.wait(),
      /Test: the inverse-root worker thread failed: Symmetric eigensolver: entry \[\d+, \d+\] is NaN/,
    );
    assert.ok(!worker.busy);
    const good = request(6);
    worker.submit(good, 1e-3);
    assert.deepEqual(worker.wait(), expected(good, 1e-3));
    worker.submit(good, 1e-3);
    worker.discard();
    assert.ok(!worker.busy);
  } finally {
    worker.terminate();
  }
});

test('misuse of the worker gets specific errors', () => {
  assert.throws(
    () => new InverseRootWorker([3, 4], [2], 'Test'),
    /Test: 2 matrices but 1 exponents/,
  );
  assert.throws(() => new InverseRootWorker([0], [2], 'Test'), /positive integer, got 0/);
  assert.throws(() => new InverseRootWorker([3], [1.5], 'Test'), /positive integer, got 1.5/);
  const worker = new InverseRootWorker(sizes, exponents, 'Test');
  assert.throws(() => worker.wait(), /Test: no root request in flight/);
  assert.throws(
    () => worker.submit(new Float32Array(5), 1e-3),
    new RegExp(`Test: a root request needs ${total} values \\(4 matrices\\), got 5`),
  );
  assert.throws(() => worker.submit(request(1), -1), /ridgeEpsilon must be a finite number >= 0/);
  worker.submit(request(1), 1e-3);
  assert.throws(() => worker.submit(request(1), 1e-3), /Test: a root request is already in flight/);
  worker.terminate();
  worker.terminate();
  assert.throws(
    () => worker.submit(request(1), 1e-3),
    /Test: the inverse-root worker thread is gone \(it was terminated\)/,
  );
});
