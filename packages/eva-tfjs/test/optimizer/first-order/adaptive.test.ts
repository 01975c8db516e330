/**
 * Adagrad, Adam and AdamW against float64 references of PyTorch's formulas.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Adagrad, Adam, AdamW } from '../../../src/index.js';
import { assertClose, useCpu, values } from '../../helpers.js';

before(useCpu);

test('Adagrad, Adam and AdamW follow PyTorch formulas (weight decay: L2 vs decoupled)', () => {
  const lr = 0.1;
  const wd = 0.05;
  const w0 = [0.5, -1.5, 2];
  const grads = [
    [0.1, -0.2, 0.3],
    [0.4, 0.1, -0.5],
    [-0.3, 0.2, 0.1],
  ];
  const run = (opt: tf.Optimizer) => {
    const v = tf.variable(tf.tensor1d(w0));
    for (const g of grads) {
      const gt = tf.tensor1d(g);
      opt.applyGradients([{ name: v.name, tensor: gt }]);
      gt.dispose();
    }
    const out = values(v);
    v.dispose();
    opt.dispose();
    return out;
  };
  // Float64 references.
  const adagrad = () => {
    const w = [...w0];
    const s = [0, 0, 0];
    for (const g of grads) {
      w.forEach((wi, i) => {
        const d = g[i]! + wd * wi;
        s[i]! += d * d;
        w[i] = wi - (lr * d) / (Math.sqrt(s[i]!) + 1e-10);
      });
    }
    return w;
  };
  const adam = (decoupled: boolean) => {
    const w = [...w0];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    grads.forEach((g, t) => {
      w.forEach((wi, i) => {
        const base = decoupled ? wi * (1 - lr * wd) : wi;
        const d = decoupled ? g[i]! : g[i]! + wd * wi;
        m[i] = 0.9 * m[i]! + 0.1 * d;
        v[i] = 0.999 * v[i]! + 0.001 * d * d;
        const mHat = m[i]! / (1 - 0.9 ** (t + 1));
        const vHat = v[i]! / (1 - 0.999 ** (t + 1));
        w[i] = base - (lr * mHat) / (Math.sqrt(vHat) + 1e-8);
      });
    });
    return w;
  };
  assertClose(run(new Adagrad({ learningRate: lr, weightDecay: wd })), adagrad(), 1e-6, 'adagrad');
  assertClose(run(new Adam({ learningRate: lr, weightDecay: wd })), adam(false), 1e-6, 'adam');
  assertClose(run(new AdamW({ learningRate: lr, weightDecay: wd })), adam(true), 1e-6, 'adamw');
  assert.equal(new AdamW({ learningRate: lr }).weightDecay, 0.01, 'PyTorch default');
});
