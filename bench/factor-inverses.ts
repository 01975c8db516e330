/**
 * Benchmark (not a test): the damped-inverse routes on the real Kronecker factors of the paper's
 * autoencoder, after `--steps` K-FAC steps on MNIST (batch 250). For every layer's `A` and `G`
 * with K-FAC's damping split, and `A` with FOOF's damping, it prints `rho = |M|_F / damping`
 * (below ~4.6e-3 the blocked route takes the Neumann series), the condition bound, the relative
 * Frobenius error against the float64 host route of the blocked route, of its block
 * factorisation alone (`neumann: false`) and of a float32 Cholesky inverse emulated in JS (the
 * precision of the PyTorch reference's `cholesky_inverse` in float32), and the routes' times
 * (alternating, median).
 *
 *   node --conditions=eva-tfjs-source --import tsx bench/factor-inverses.ts [--steps 30] [--repeats 3]
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import {
  createAutoencoder,
  initializeLikePyTorch,
  loadMnist,
  setupBackend,
} from '@eva-tfjs/experiments';
import { dampedInverseBlocked, dampedInverseHost, KFAC } from 'eva-tfjs';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '30' },
    repeats: { type: 'string', default: '3' },
    backend: { type: 'string', default: 'wasm' },
  },
});

/** The routes compared: host, blocked (the default), its block factorisation alone. */
type Route = 'host' | 'blocked' | 'blocks';
const ROUTES: readonly Route[] = ['host', 'blocked', 'blocks'];

/** K-FAC's damping `gamma` (the default). */
const GAMMA = 0.03;

/**
 * `(M + damping I)^-1` by an unblocked Cholesky, `L^-1` and `L^-T L^-1` with every operation
 * rounded to float32 (`Math.fround`): the accuracy a float32 LAPACK/cuSOLVER inverse reaches.
 */
function float32CholeskyInverse(m: Float32Array, n: number, damping: number): Float64Array {
  const f = Math.fround;
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let s = f(f((m[j * n + j]! + m[j * n + j]!) / 2) + f(damping));
    for (let k = 0; k < j; k++) s = f(s - f(l[j * n + k]! * l[j * n + k]!));
    const diagonal = f(Math.sqrt(s));
    l[j * n + j] = diagonal;
    for (let i = j + 1; i < n; i++) {
      let t = f((m[i * n + j]! + m[j * n + i]!) / 2);
      for (let k = 0; k < j; k++) t = f(t - f(l[i * n + k]! * l[j * n + k]!));
      l[i * n + j] = f(t / diagonal);
    }
  }
  const x = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < i; k++) {
      const c = l[i * n + k]!;
      for (let j = 0; j <= k; j++) x[i * n + j] = f(x[i * n + j]! - f(c * x[k * n + j]!));
    }
    const inverse = f(1 / l[i * n + i]!);
    for (let j = 0; j < i; j++) x[i * n + j] = f(x[i * n + j]! * inverse);
    x[i * n + i] = inverse;
  }
  const result = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s = f(s + f(x[k * n + i]! * x[k * n + j]!));
      result[i * n + j] = s;
      result[j * n + i] = s;
    }
  }
  return result;
}

/** `|actual - expected|_F / |expected|_F` (float32 on the backend: two digits are shown). */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  return tf.tidy(() => {
    const reference = tf.tensor1d(Float32Array.from(expected));
    const difference = tf.sub(tf.tensor1d(Float32Array.from(actual)), reference);
    return tf.div(tf.norm(difference), tf.norm(reference)).dataSync()[0]!;
  });
}

/** `(lambda_max + damping) / damping` by power iteration: an upper bound of the conditioning. */
function conditionBound(m: tf.Tensor2D, damping: number): number {
  return tf.tidy(() => {
    let v = tf.ones([m.shape[0], 1]);
    for (let k = 0; k < 200; k++) v = tf.div(tf.matMul(m, v), tf.norm(v));
    return (tf.norm(v).dataSync()[0]! + damping) / damping;
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function time(run: () => tf.Tensor): { ms: number; values: Float32Array } {
  const start = performance.now();
  const result = run();
  const values = result.dataSync() as Float32Array;
  const ms = performance.now() - start;
  result.dispose();
  return { ms, values };
}

await setupBackend(args.backend!);
const data = loadMnist();
const model = createAutoencoder();
initializeLikePyTorch(model, 1);
const kfac = new KFAC(model, tf.train.momentum(0.01, 0.9), { invUpdateFreq: 10, linalg: 'host' });
model.compile({ optimizer: kfac, loss: 'meanSquaredError' });
const batch = 250;
for (let step = 0; step < Number(args.steps); step++) {
  const offset = (step * batch * 784) % (data.train.images.length - batch * 784);
  const x = tf.tensor2d(data.train.images.subarray(offset, offset + batch * 784), [batch, 784]);
  await model.trainOnBatch(x, x);
  x.dispose();
}
const state = new Map((await kfac.getWeights()).map((w) => [w.name, w.tensor as tf.Tensor2D]));
const trace = (m: tf.Tensor2D) =>
  tf.tidy(() => tf.sum(tf.mul(m, tf.eye(m.shape[0]))).dataSync()[0]!);

console.log(
  `autoencoder factors after ${args.steps} K-FAC steps on MNIST (batch ${batch}), ` +
    `${args.backend}, times: median of ${args.repeats} alternating runs\n`,
);
console.log(
  '| factor | d | damping | rho | cond <= | error: blocked | blocks only | float32 Cholesky | ' +
    'ms: host | blocked | blocks only |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (let layer = 0; state.has(`kfac/${layer}/A`); layer++) {
  const a = state.get(`kfac/${layer}/A`)!;
  const g = state.get(`kfac/${layer}/G`)!;
  const pi = Math.sqrt(trace(a) / a.shape[0] / (trace(g) / g.shape[0]));
  const cases: Array<[string, tf.Tensor2D, number]> = [
    [`K-FAC A${layer}`, a, Math.sqrt(GAMMA) * pi],
    [`K-FAC G${layer}`, g, Math.sqrt(GAMMA) / pi],
    [`FOOF A${layer}`, a, GAMMA],
  ];
  for (const [label, m, damping] of cases) {
    const n = m.shape[0];
    const routes: Record<Route, () => tf.Tensor> = {
      host: () => dampedInverseHost(m, damping),
      blocked: () => dampedInverseBlocked(m, damping),
      blocks: () => dampedInverseBlocked(m, damping, { neumann: false }),
    };
    const times: Record<Route, number[]> = { host: [], blocked: [], blocks: [] };
    const results = {} as Record<Route, ArrayLike<number>>;
    for (let r = 0; r < Number(args.repeats); r++) {
      for (const route of ROUTES) {
        const { ms, values } = time(routes[route]);
        times[route].push(ms);
        results[route] = values;
      }
    }
    const emulated = float32CholeskyInverse(m.dataSync() as Float32Array, n, damping);
    const rho = tf.tidy(() => tf.norm(m).dataSync()[0]!) / damping;
    const error = (x: ArrayLike<number>) => relativeError(x, results.host).toExponential(1);
    console.log(
      `| ${label} | ${n} | ${damping.toExponential(1)} | ${rho.toExponential(1)} | ` +
        `${conditionBound(m, damping).toPrecision(3)} | ${error(results.blocked)} | ` +
        `${error(results.blocks)} | ${error(emulated)} | ${median(times.host).toFixed(0)} | ` +
        `${median(times.blocked).toFixed(0)} | ${median(times.blocks).toFixed(0)} |`,
    );
  }
}
tf.dispose([...state.values()]);
kfac.dispose();
model.dispose();
