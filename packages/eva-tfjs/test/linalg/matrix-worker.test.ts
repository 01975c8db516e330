/**
 * The matrix worker thread against the same float64 functions computed on the calling thread,
 * over several requests (orders 1 to 40; inverse roots with exponents 2 to 6 and damped
 * inverses, the latter also against ml-matrix's inverse); a failed request's message, and the
 * thread still serving afterwards; a thread that cannot start or dies; misuse errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';
import { inverseRootFloat64, symmetricUpper } from '../../src/linalg/inverse-root-float64.js';
import { dampedInverseFloat64 } from '../../src/linalg/damped-inverse-float64.js';
import { MatrixFunctionWorker } from '../../src/linalg/matrix-worker.js';
import type { MatrixOperation } from '../../src/linalg/matrix-worker-protocol.js';
import { Matrix, inverse } from 'ml-matrix';
import { assertClose, randomValues } from '../helpers.js';

const sizes = [1, 3, 17, 40, 17, 40];
const operations: MatrixOperation[] = [
  { kind: 'inverseRoot', p: 2 },
  { kind: 'inverseRoot', p: 4 },
  { kind: 'inverseRoot', p: 6 },
  { kind: 'inverseRoot', p: 4 },
  { kind: 'dampedInverse' },
  { kind: 'dampedInverse' },
];
const total = sizes.reduce((s, n) => s + n * n, 0);
/** Per-request parameters: the roots' ridge epsilon, the inverses' damping. */
const parameters = (ridge: number, damping: number) =>
  operations.map((o) => (o.kind === 'inverseRoot' ? ridge : damping));

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

function expected(matrices: Float32Array, ridge: number, damping: number): Float32Array {
  const out = new Float32Array(total);
  let offset = 0;
  sizes.forEach((n, i) => {
    const operation = operations[i]!;
    out.set(
      operation.kind === 'inverseRoot'
        ? inverseRootFloat64(symmetricUpper(matrices, offset, n), n, operation.p, ridge)
        : dampedInverseFloat64(matrices, offset, n, damping),
      offset,
    );
    offset += n * n;
  });
  return out;
}

test('the worker thread computes the same float64 functions as the calling thread', () => {
  assert.ok(MatrixFunctionWorker.isSupported());
  const worker = new MatrixFunctionWorker(sizes, operations, 'Test');
  try {
    for (const [seed, ridge, damping] of [
      [1, 1e-3, 0.1],
      [2, 1e-6, 1e-3],
      [3, 0, 10],
    ] as const) {
      const matrices = request(seed * 10);
      worker.submit(matrices, parameters(ridge, damping));
      assert.ok(worker.busy);
      const results = worker.wait();
      assert.ok(!worker.busy);
      assert.deepEqual(results, expected(matrices, ridge, damping), `request ${seed}`);
    }
  } finally {
    worker.terminate();
  }
});

test('the float64 damped inverse is the inverse (ml-matrix), also of a rank-deficient matrix', () => {
  const matrices = request(40);
  let offset = 0;
  sizes.forEach((n, i) => {
    if (operations[i]!.kind === 'dampedInverse') {
      const m = Matrix.from1DArray(n, n, Array.from(matrices.subarray(offset, offset + n * n)));
      const reference = inverse(m.add(Matrix.eye(n).mul(1e-2)));
      const result = dampedInverseFloat64(matrices, offset, n, 1e-2);
      assertClose(Array.from(result), reference.to1DArray(), 1e-7, `order ${n}`);
    }
    offset += n * n;
  });
  assert.throws(() => dampedInverseFloat64(matrices, 0, 1, 0), /finite number > 0, got 0/);
});

test("a failed request reports the thread's message; the thread serves the next one", () => {
  const worker = new MatrixFunctionWorker(sizes, operations, 'Test');
  try {
    const bad = request(5);
    bad[1 + 9 + 5] = NaN;
    worker.submit(bad, parameters(1e-3, 0.1));
    assert.throws(
      () => worker.wait(),
      /Test: the matrix worker thread failed: Symmetric eigensolver: entry \[\d+, \d+\] is NaN/,
    );
    assert.ok(!worker.busy);
    const good = request(6);
    worker.submit(good, parameters(1e-3, 0.1));
    assert.deepEqual(worker.wait(), expected(good, 1e-3, 0.1));
    worker.submit(good, parameters(1e-3, 0.1));
    worker.discard();
    assert.ok(!worker.busy);
  } finally {
    worker.terminate();
  }
});

test('misuse of the worker gets specific errors', () => {
  const root = { kind: 'inverseRoot', p: 2 } as const;
  assert.throws(
    () => new MatrixFunctionWorker([3, 4], [root], 'Test'),
    /Test: 2 matrices but 1 operations/,
  );
  assert.throws(() => new MatrixFunctionWorker([0], [root], 'Test'), /positive integer, got 0/);
  assert.throws(
    () => new MatrixFunctionWorker([3], [{ kind: 'inverseRoot', p: 1.5 }], 'Test'),
    /p a positive integer, got \{"kind":"inverseRoot","p":1.5\}/,
  );
  const worker = new MatrixFunctionWorker(sizes, operations, 'Test');
  const ok = parameters(1e-3, 0.1);
  assert.throws(() => worker.wait(), /Test: no matrix request in flight/);
  assert.throws(
    () => worker.submit(new Float32Array(5), ok),
    new RegExp(`Test: a matrix request needs ${total} values \\(6 matrices\\), got 5`),
  );
  assert.throws(
    () => worker.submit(request(1), [1]),
    /Test: a matrix request needs 6 parameters, got 1/,
  );
  assert.throws(
    () => worker.submit(request(1), parameters(-1, 0.1)),
    /parameter 0 \(the ridge epsilon of an inverse root\) must be a finite number >= 0, got -1/,
  );
  assert.throws(
    () => worker.submit(request(1), parameters(0, 0)),
    /parameter 4 \(the damping of an inverse\) must be a finite number > 0, got 0/,
  );
  assert.ok(!worker.busy, 'a rejected request starts nothing');
  worker.submit(request(1), ok);
  assert.throws(() => worker.submit(request(1), ok), /Test: a matrix request is already in flight/);
  worker.terminate();
  worker.terminate();
  assert.throws(
    () => worker.submit(request(1), ok),
    /Test: the matrix worker thread is gone \(it was terminated\)/,
  );
});

test('a thread whose entry cannot load, or that dies, is an error, not a hang', () => {
  const missing = new MatrixFunctionWorker(sizes, operations, 'Test', {
    entry: pathToFileURL(join(tmpdir(), 'eva-tfjs-no-such-entry.mjs')).href,
  });
  missing.submit(request(1), parameters(1e-3, 0.1));
  const started = Date.now();
  assert.throws(
    () => missing.wait(),
    /Test: the matrix worker thread could not load file:.*eva-tfjs-no-such-entry\.mjs: .*Cannot find module/s,
  );
  assert.ok(Date.now() - started < 30_000, 'reported at once, not after a timeout');
  assert.throws(() => missing.submit(request(1), parameters(1e-3, 0.1)), /could not load/);
  missing.terminate();
  // A thread that starts and then dies without answering (as on running out of memory).
  const dir = mkdtempSync(join(tmpdir(), 'eva-tfjs-worker-'));
  const dies = join(dir, 'dies.mjs');
  writeFileSync(
    dies,
    "import { workerData } from 'node:worker_threads';\n" +
      'Atomics.store(workerData.status, 1, 1);\n' +
      'process.exit(0);\n',
  );
  const dead = new MatrixFunctionWorker(sizes, operations, 'Test', {
    entry: pathToFileURL(dies).href,
    stallLimitMs: 2000,
  });
  dead.submit(request(1), parameters(1e-3, 0.1));
  assert.throws(
    () => dead.wait(),
    /Test: the matrix worker thread finished no matrix within 2 s; it may have died/,
  );
  dead.terminate();
  rmSync(dir, { recursive: true, force: true });
});
