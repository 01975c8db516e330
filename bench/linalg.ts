/**
 * Benchmark of the linear-algebra routes K-FAC/FOOF (damped SPD inverse) and Shampoo (inverse
 * 4th root) can take: float64 on the host vs recursive blocks on the backend's matmul vs Newton
 * iterations on tf ops, on the given backends. The routes of one size run alternately, once
 * each per repeat (the machine is shared: alternation keeps their ratios fair); prints the
 * median time and the relative Frobenius error against the float64 host result.
 *
 *   node --conditions=eva-tfjs-source --import tsx bench/linalg.ts --backends wasm \
 *       --sizes 128,512,1001 --repeats 5 [--leaf-sizes 32,64,128] [--operations inverse]
 */
import * as tf from '@tensorflow/tfjs';
import { Command } from 'commander';
import Table from 'cli-table3';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { setupBackend, seededRandom } from '@eva-tfjs/experiments';
import {
  enableFastKernels,
  dampedInverseBlocked,
  dampedInverseHost,
  dampedInverseNewton,
  inverseRootHost,
  inverseRootNewton,
} from 'eva-tfjs';

const program = new Command()
  .option('--backends <list>', 'backends', 'wasm')
  .option('--sizes <list>', 'matrix sizes', '128,512,1001')
  .option('--repeats <n>', 'runs per case (median)', '3')
  .option('--leaf-sizes <list>', 'leaf sizes of the blocked inverse', '64')
  .option('--operations <list>', 'inverse, root', 'inverse,root')
  .option('--damping <x>', 'damping of the inverses', '1e-3')
  .option(
    '--routes <list>',
    'host, blocked, newton (the first is the error reference)',
    'host,blocked,newton',
  )
  .parse();
const opts = program.opts<{
  backends: string;
  sizes: string;
  repeats: string;
  leafSizes: string;
  operations: string;
  damping: string;
  routes: string;
}>();

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

/** `(lambda_max + damping) / damping` (power iteration): an upper bound of cond(A + damping I). */
function conditionBound(a: tf.Tensor2D, damping: number): number {
  return tf.tidy(() => {
    let v = tf.ones([a.shape[0], 1]);
    for (let k = 0; k < 100; k++) v = tf.div(tf.matMul(a, v), tf.norm(v));
    return (tf.norm(v).dataSync()[0]! + damping) / damping;
  });
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

interface Case {
  operation: string;
  /** host, blocked or newton (for --routes). */
  key: string;
  route: string;
  run: () => tf.Tensor;
}

enableFastKernels();
const operations = opts.operations.split(',');
const damping = Number(opts.damping);
const table = new Table({
  head: ['backend', 'd', 'operation', 'route', 'median ms', 'rel. error vs host'],
  style: { head: [], border: [] },
});
for (const backend of opts.backends.split(',')) {
  await setupBackend(backend);
  for (const d of opts.sizes.split(',').map(Number)) {
    const a = factor(d, d);
    const all: Case[] = [];
    if (operations.includes('inverse')) {
      all.push({
        operation: 'inverse',
        key: 'host',
        route: 'host (float64 Cholesky)',
        run: () => dampedInverseHost(a, damping),
      });
      for (const leafSize of opts.leafSizes.split(',').map(Number)) {
        all.push({
          operation: 'inverse',
          key: 'blocked',
          route: `blocked (leaf ${leafSize})`,
          run: () => dampedInverseBlocked(a, damping, { leafSize }),
        });
      }
      all.push({
        operation: 'inverse',
        key: 'newton',
        route: 'newton-schulz (tf, 30 it.)',
        run: () => dampedInverseNewton(a, damping),
      });
    }
    if (operations.includes('root')) {
      all.push(
        {
          operation: 'inverse 4th root',
          key: 'host',
          route: 'host (flat float64 EVD)',
          run: () => inverseRootHost(a, 4, 1e-6),
        },
        {
          operation: 'inverse 4th root',
          key: 'host',
          route: 'host (ml-matrix EVD, former)',
          run: () => mlMatrixInverseRoot(a, 4, 1e-6),
        },
        {
          operation: 'inverse 4th root',
          key: 'newton',
          route: 'coupled newton (tf)',
          run: () => inverseRootNewton(a, 4, 1e-6),
        },
      );
    }
    const routes = opts.routes.split(',');
    const cases = all.filter((c) => routes.includes(c.key));
    const times = cases.map(() => [] as number[]);
    const last: Array<tf.Tensor | null> = cases.map(() => null);
    for (let r = 0; r < Number(opts.repeats); r++) {
      cases.forEach((c, i) => {
        const { ms, result } = time(c.run);
        times[i]!.push(ms);
        last[i]?.dispose();
        last[i] = result;
      });
      console.error(`${backend} d=${d}: repeat ${r + 1}/${opts.repeats}`);
    }
    const reference = new Map<string, tf.Tensor>();
    cases.forEach((c, i) => {
      const ref = reference.get(c.operation);
      const error = ref == null ? 0 : relativeError(last[i]!, ref);
      if (ref == null) reference.set(c.operation, last[i]!);
      else last[i]!.dispose();
      table.push([
        backend,
        d,
        c.operation,
        c.route,
        median(times[i]!).toFixed(1),
        ref == null ? 'reference' : error.toExponential(2),
      ]);
    });
    if (operations.includes('inverse')) {
      console.error(
        `d=${d}: cond(A + damping I) <= ${conditionBound(a, damping).toExponential(1)}`,
      );
    }
    tf.dispose([...reference.values(), a]);
  }
}
console.log(table.toString());
