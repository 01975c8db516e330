/**
 * Benchmark (not a test): the cost of a layer's vector products on wasm (fast kernels) in each
 * orientation, for a gradient-sized matrix G [1000, 784] that is a fresh tensor on every call
 * (as a gradient is in every training step) and for the same tensor reused (as model weights
 * are during inference). XNNPACK packs a product's right operand as weights, once per tensor:
 * a one-row product `a^T G` with a fresh G pays that packing on every call.
 *
 *   node --conditions=eva-tfjs-source --import tsx bench/vector-products.ts [--repeats 20]
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { setupBackend } from '@eva-tfjs/experiments';
import { disableFastKernels, enableFastKernels } from 'eva-tfjs';

const { values } = parseArgs({ options: { repeats: { type: 'string', default: '20' } } });
const repeats = Number(values.repeats);
await setupBackend('wasm');
const G = tf.randomNormal([1000, 784]);
const a = tf.randomNormal([1000, 1]);
const g = tf.randomNormal([784, 1]);
/** A fresh copy of G (what a training step hands the optimizer), or G itself. */
const matrix = (fresh: boolean) => (fresh ? tf.add(G, 0) : G);

const cases: Array<[string, (fresh: boolean) => tf.Tensor, boolean]> = [
  ['the copy that makes G fresh (and a sum)', (fresh) => tf.sum(matrix(fresh)), true],
  ['a^T G g as (a^T G) g', (fresh) => tf.matMul(tf.matMul(a, matrix(fresh), true), g), true],
  ['a^T G g as a^T (G g)', (fresh) => tf.sum(tf.mul(a, tf.matMul(matrix(fresh), g))), true],
  ['G^T a as the row a^T G', (fresh) => tf.matMul(tf.reshape(a, [1, -1]), matrix(fresh)), true],
  ['G^T a as matMul(G, a, true)', (fresh) => tf.matMul(matrix(fresh), a, true), true],
  ['G^T a as matMul(G, a, true), stock', (fresh) => tf.matMul(matrix(fresh), a, true), false],
  ['G^T a as sum(G * a, 0)', (fresh) => tf.sum(tf.mul(matrix(fresh), a), 0), true],
];

/** Median ms of `repeats` calls (each read back), after 3 warm-up calls. */
function time(f: () => tf.Tensor): number {
  const once = () => {
    const start = performance.now();
    tf.tidy(() => f().dataSync());
    return performance.now() - start;
  };
  for (let i = 0; i < 3; i++) once();
  const ms = Array.from({ length: repeats }, once).sort((x, y) => x - y);
  return ms[ms.length >> 1]!;
}

console.log(`wasm, G [1000, 784], median ms of ${repeats} calls (each read back)\n`);
console.log('| product | G fresh each call | G reused |');
console.log('|---|---|---|');
for (const [name, f, fast] of cases) {
  if (fast) enableFastKernels();
  else disableFastKernels();
  const [fresh, reused] = [true, false].map((isFresh) => time(() => f(isFresh)));
  console.log(`| ${name} | ${fresh!.toFixed(2)} | ${reused!.toFixed(2)} |`);
}
enableFastKernels();
tf.dispose([G, a, g]);
