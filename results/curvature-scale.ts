/**
 * How large each preconditioner's curvature term is against its damping, per layer, in the final
 * state of trained runs (their checkpoints under `<report>/runs/`). Ratios far below 1 mean the
 * preconditioned direction is `G / damping` up to that relative size: the curvature term does
 * nothing. Prints a Markdown table (results/curvature-scale.md is its output).
 *
 *   node --conditions=eva-tfjs-source --import tsx results/curvature-scale.ts <run dir>...
 *
 * - Eva: `|a|^2 |g|^2 / damping` (the Sherman-Morrison correction's weight).
 * - Eva-f: `|a|^2 / damping` (the projection off `a` removes that share of G's component along a).
 * - Eva-s: `prod_i |v_i|^2 / damping` per preconditioned tensor (its rank-one projection's weight).
 * - K-FAC: the largest eigenvalue of each factor over the damping it gets (`sqrt(damping) * pi`
 *   for A, `sqrt(damping) / pi` for G, pi the trace split), by power iteration.
 */
import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '@eva-tfjs/experiments';
import { loadCheckpoint } from '../packages/experiments/src/experiments/checkpoint.js';
import { dampingSplit } from '../packages/eva-tfjs/src/preconditioners/kfac.js';

/** The largest eigenvalue of a symmetric positive semi-definite matrix (power iteration). */
function largestEigenvalue(matrix: tf.Tensor2D): number {
  return tf.tidy(() => {
    let v: tf.Tensor2D = tf.ones([matrix.shape[0], 1]);
    let value = 0;
    for (let i = 0; i < 200; i++) {
      const w = tf.matMul(matrix, v);
      value = tf.norm(w).dataSync()[0]!;
      if (value === 0) return 0;
      v = tf.div(w, value);
    }
    return value;
  });
}

const sum = (t: tf.Tensor) => tf.tidy(() => tf.sum(t).dataSync()[0]!);
const short = (x: number) => x.toExponential(1);

async function main(): Promise<void> {
  const dirs = process.argv.slice(2);
  if (dirs.length === 0) throw new Error('usage: curvature-scale.ts <run dir>...');
  await setupBackend('cpu');
  console.log('| run | algorithm | damping | per layer: curvature / damping | largest |');
  console.log('|---|---|---|---|---|');
  for (const dir of dirs) {
    const { meta, optimizerWeights } = loadCheckpoint(`${dir}/checkpoint`);
    const settings = (meta as { settings: { optimizer: string; optimizerOptions: object } })
      .settings;
    const damping = (settings.optimizerOptions as { damping?: number }).damping ?? 0.03;
    const get = (name: string) => optimizerWeights.find((w) => w.name === name)?.tensor;
    const ratios: string[] = [];
    let largest = 0;
    const note = (ratio: number, text = short(ratio)) => {
      largest = Math.max(largest, ratio);
      ratios.push(text);
    };
    const evaS = optimizerWeights.filter((w) => /^evas\/\d+\/v0$/.test(w.name));
    const kind =
      evaS.length > 0
        ? 'evas'
        : ['eva', 'evaf', 'kfac'].find((k) => get(`${k}/0/${k === 'kfac' ? 'A' : 'a'}`));
    if (kind == null) throw new Error(`${dir}: no Eva, Eva-f, Eva-s or K-FAC state in it`);
    for (const { name } of evaS) {
      const vectors = optimizerWeights.filter((w) => w.name.startsWith(name.slice(0, -1)));
      note(vectors.reduce((product, v) => product * sum(tf.square(v.tensor)), 1) / damping);
    }
    for (let i = 0; kind !== 'evas' && get(`${kind}/${i}/${kind === 'kfac' ? 'A' : 'a'}`); i++) {
      if (kind === 'eva') {
        const aa = sum(tf.square(get(`eva/${i}/a`)!));
        const gg = sum(tf.square(get(`eva/${i}/g`)!));
        note((aa * gg) / damping);
      } else if (kind === 'evaf') {
        note(sum(tf.square(get(`evaf/${i}/a`)!)) / damping);
      } else {
        const a = get(`kfac/${i}/A`) as tf.Tensor2D;
        const g = get(`kfac/${i}/G`) as tf.Tensor2D;
        const trace = (m: tf.Tensor2D) => sum(tf.mul(m, tf.eye(m.shape[0])));
        const pi = dampingSplit(trace(a), a.shape[0], trace(g), g.shape[0]);
        const ra = largestEigenvalue(a) / (Math.sqrt(damping) * pi);
        const rg = largestEigenvalue(g) / (Math.sqrt(damping) / pi);
        largest = Math.max(largest, ra, rg);
        ratios.push(`A ${short(ra)} G ${short(rg)}`);
      }
    }
    const name = dir.replace(/\/+$/, '').split('/').slice(-3).join('/');
    console.log(`| ${name} | ${kind} | ${damping} | ${ratios.join(', ')} | ${short(largest)} |`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
