/**
 * Benchmark of the linear-algebra routes K-FAC/FOOF (damped SPD inverse) and Shampoo (inverse
 * 4th root) can take, at d = 128, 512, 1001: float64 on the host (ml-matrix) vs Newton
 * iterations on tf ops, on the given backends. Prints median time and the relative error
 * against the float64 host result.
 *
 *   npx tsx bench/linalg.ts --backends wasm,cpu --sizes 128,512,1001 --repeats 3
 */
import * as tf from '@tensorflow/tfjs';
import { Command } from 'commander';
import Table from 'cli-table3';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { setupBackend, seededRandom } from '@eva-tfjs/experiments';
import {
  enableFastKernels,
  dampedInverseHost,
  dampedInverseNewton,
  inverseRootHost,
  inverseRootNewton,
} from 'eva-tfjs';

const program = new Command()
  .option('--backends <list>', 'backends', 'wasm')
  .option('--sizes <list>', 'matrix sizes', '128,512,1001')
  .option('--repeats <n>', 'runs per case (median)', '3')
  .parse();
const opts = program.opts<{ backends: string; sizes: string; repeats: string }>();

/** A Kronecker-factor-like SPD matrix: X^T X / n from rows with a decaying spectrum. */
function factor(d: number, seed: number): tf.Tensor2D {
  return tf.tidy(() => {
    const random = seededRandom(seed);
    const rows = 2 * d;
    const values = new Float32Array(rows * d);
    for (let i = 0; i < values.length; i++) values[i] = (random() - 0.5) * Math.exp(-(i % d) / 50);
    const x = tf.tensor2d(values, [rows, d]);
    return tf.div(tf.matMul(x, x, true, false), rows) as tf.Tensor2D;
  });
}

function time(run: () => tf.Tensor): { ms: number; result: tf.Tensor } {
  const start = performance.now();
  const result = run();
  result.dataSync();
  return { ms: performance.now() - start, result };
}

function relativeError(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.div(tf.norm(tf.sub(a, b)), tf.norm(b)).dataSync()[0]!);
}

/** The former host root route (before issue 14): ml-matrix's EVD, for comparison. */
function mlMatrixInverseRoot(a: tf.Tensor2D, p: number, ridgeEpsilon: number): tf.Tensor2D {
  const n = a.shape[0];
  const values = a.dataSync();
  const m = new Matrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) m.set(i, j, (values[i * n + j]! + values[j * n + i]!) / 2);
  }
  const evd = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const lambdas = evd.realEigenvalues.map((v) => Math.max(v, 0));
  const ridge = Math.max(ridgeEpsilon * Math.max(...lambdas), 1e-16);
  const scaled = evd.eigenvectorMatrix.clone();
  lambdas.forEach((lambda, j) => scaled.mulColumn(j, Math.pow(lambda + ridge, -1 / p)));
  const root = scaled.mmul(evd.eigenvectorMatrix.transpose());
  return tf.tensor2d(Float32Array.from(root.to1DArray()), [n, n]);
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

enableFastKernels();
const table = new Table({
  head: ['backend', 'd', 'operation', 'route', 'median ms', 'rel. error vs host'],
  style: { head: [], border: [] },
});
for (const backend of opts.backends.split(',')) {
  await setupBackend(backend);
  for (const d of opts.sizes.split(',').map(Number)) {
    const a = factor(d, d);
    const damping = 1e-3;
    const cases: Array<[string, string, () => tf.Tensor]> = [
      ['inverse', 'host (float64 Cholesky)', () => dampedInverseHost(a, damping)],
      ['inverse', 'newton-schulz (tf, 30 it.)', () => dampedInverseNewton(a, damping)],
      ['inverse 4th root', 'host (flat float64 EVD)', () => inverseRootHost(a, 4, 1e-6)],
      ['inverse 4th root', 'host (ml-matrix EVD, former)', () => mlMatrixInverseRoot(a, 4, 1e-6)],
      ['inverse 4th root', 'coupled newton (tf)', () => inverseRootNewton(a, 4, 1e-6)],
    ];
    const reference = new Map<string, tf.Tensor>();
    for (const [operation, route, run] of cases) {
      const times: number[] = [];
      let last: tf.Tensor | null = null;
      for (let r = 0; r < Number(opts.repeats); r++) {
        const { ms, result } = time(run);
        times.push(ms);
        last?.dispose();
        last = result;
      }
      const ref = reference.get(operation);
      const error = ref == null ? 0 : relativeError(last!, ref);
      if (ref == null) reference.set(operation, last!);
      else last!.dispose();
      table.push([backend, d, operation, route, median(times).toFixed(1), error.toExponential(2)]);
      console.error(`${backend} d=${d} ${operation} ${route}: ${median(times).toFixed(1)} ms`);
    }
    for (const t of reference.values()) t.dispose();
    a.dispose();
  }
}
console.log(table.toString());
