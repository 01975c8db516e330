/**
 * Every preconditioner of the family against an independent float64 dense computation on a
 * small model with Conv2D (stride 1 'same' with bias, stride 2 'valid' without) and Dense (with
 * and without bias) layers: the full Kronecker-factored (or rank-one, or windowed) matrix is
 * built explicitly and solved or eigendecomposed with ml-matrix.
 */
import * as tf from '@tensorflow/tfjs';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EvaF, EvaS, FOOF, KFAC, MFAC, Shampoo, type NamedTensor } from '../src/index.js';
import { blockLayout } from '../src/preconditioners/shampoo.js';
import {
  addIdentity,
  assertClose,
  fromLayerVec,
  identity,
  kron,
  layerVec,
  matrix,
  randomTensor,
  solveDense,
  symmetricPower,
  useCpu,
  values,
} from './helpers.js';

before(useCpu);

function buildModel(): tf.LayersModel {
  const input = tf.input({ shape: [6, 6, 2] });
  let h = tf.layers
    .conv2d({ filters: 3, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' })
    .apply(input) as tf.SymbolicTensor;
  h = tf.layers
    .conv2d({ filters: 4, kernelSize: [3, 2], strides: 2, padding: 'valid', useBias: false })
    .apply(h) as tf.SymbolicTensor;
  h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 5, activation: 'tanh' }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, useBias: false }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

interface Run {
  model: tf.LayersModel;
  grads: tf.NamedTensorMap;
  result: Map<string, tf.Tensor>;
  state: Map<string, tf.Tensor>;
  /** Every step's gradient values, by variable name. */
  history: Map<string, number[][]>;
  cleanup(): void;
}

/** One `precondition` step of `make(model)` on a fixed batch; returns gradients, output and state. */
async function runOnce(
  make: (model: tf.LayersModel) => tf.Optimizer & {
    precondition(g: tf.NamedTensorMap): NamedTensor[] | null;
  },
  steps = 1,
): Promise<Run & { optimizer: tf.Optimizer }> {
  const model = buildModel();
  const optimizer = make(model);
  let grads: tf.NamedTensorMap = {};
  let result: NamedTensor[] = [];
  const history = new Map<string, number[][]>();
  for (let s = 0; s < steps; s++) {
    tf.dispose(Object.values(grads));
    tf.dispose(result.map((r) => r.tensor));
    const x = randomTensor([7, 6, 6, 2], 1 + s);
    const y = randomTensor([7, 3], 100 + s);
    const out = tf.variableGrads(
      () =>
        tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    );
    out.value.dispose();
    tf.dispose([x, y]);
    grads = out.grads;
    for (const [name, g] of Object.entries(grads)) {
      history.set(name, [...(history.get(name) ?? []), values(g)]);
    }
    result = optimizer.precondition(grads)!;
  }
  const weights = await optimizer.getWeights();
  return {
    model,
    optimizer,
    grads,
    result: new Map(result.map((r) => [r.name, r.tensor])),
    state: new Map(weights.map((w) => [w.name, w.tensor])),
    history,
    cleanup() {
      tf.dispose([...Object.values(grads), ...result.map((r) => r.tensor)]);
      optimizer.dispose();
      model.dispose();
    },
  };
}

interface LayerInfo {
  index: number;
  kernelName: string;
  biasName: string | undefined;
  inFeatures: number;
  out: number;
  hasBias: boolean;
}

function layerInfos(opt: {
  layers: readonly {
    layer: unknown;
    index: number;
    geometry: { inFeatures: number; outFeatures: number; hasBias: boolean };
  }[];
}): LayerInfo[] {
  return opt.layers.map((captured) => {
    const layer = captured.layer as {
      kernel: { read(): tf.Variable };
      bias: { read(): tf.Variable } | null;
    };
    return {
      index: captured.index,
      kernelName: layer.kernel.read().name,
      biasName: layer.bias?.read().name,
      inFeatures: captured.geometry.inFeatures,
      out: captured.geometry.outFeatures,
      hasBias: captured.geometry.hasBias,
    };
  });
}

/** Per layer: solve `C p = vec(G)` with the given curvature, then one global scale; compare. */
function checkLayerwise(
  run: Run,
  layers: LayerInfo[],
  curvature: (layer: LayerInfo) => Matrix,
  scale: (sums: { pg: number; gg: number; pp: number }) => number,
  rtol = 5e-4,
): void {
  const refs = layers.map((info) => {
    const vec = layerVec(
      matrix(run.grads[info.kernelName]!, info.inFeatures),
      info.biasName ? values(run.grads[info.biasName]!) : null,
    );
    return { info, vec, p: solveDense(curvature(info), vec) };
  });
  const sums = { pg: 0, gg: 0, pp: 0 };
  for (const { vec, p } of refs) {
    vec.forEach((g, i) => {
      sums.pg += g * p[i]!;
      sums.gg += g * g;
      sums.pp += p[i]! ** 2;
    });
  }
  const nu = scale(sums);
  for (const { info, p } of refs) {
    const ref = fromLayerVec(
      p.map((v) => v * nu),
      info.inFeatures,
      info.out,
      info.hasBias,
    );
    assertClose(
      matrix(run.result.get(info.kernelName)!, info.inFeatures).flat(),
      ref.kernel.flat(),
      rtol,
      `kernel of layer ${info.index}`,
    );
    if (info.biasName) {
      assertClose(values(run.result.get(info.biasName)!), ref.bias!, rtol, `bias of ${info.index}`);
    }
  }
}

const read2d = (t: tf.Tensor) => matrix(t, t.shape[0]!);

for (const klClip of [null, 0.001] as const) {
  test(`KFAC equals (Gf + sqrt(g)/pi I)^-1 (x) (A + sqrt(g) pi I)^-1 solved densely (klClip ${klClip})`, async () => {
    const damping = 0.05;
    const lr = 0.5;
    const run = await runOnce(
      (m) => new KFAC(m, tf.train.sgd(lr), { damping, klClip, statsBatchSize: 5 }),
    );
    const opt = run.optimizer as KFAC;
    checkLayerwise(
      run,
      layerInfos(opt),
      (info) => {
        const a = read2d(run.state.get(`kfac/${info.index}/A`)!);
        const g = read2d(run.state.get(`kfac/${info.index}/G`)!);
        const trA = a.reduce((s, row, i) => s + row[i]!, 0) / a.length;
        const trG = g.reduce((s, row, i) => s + row[i]!, 0) / g.length;
        const pi = Math.sqrt(trA / trG);
        return kron(
          addIdentity(g, Math.sqrt(damping) / pi),
          addIdentity(a, Math.sqrt(damping) * pi),
        );
      },
      ({ pg }) => (klClip == null ? 1 : Math.min(1, Math.sqrt(klClip / (lr * lr * pg)))),
    );
    run.cleanup();
  });
}

test('KFAC factors are rows^T rows / n of the first statsBatchSize samples (Dense, bias column)', async () => {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'relu' })],
  });
  const opt = new KFAC(model, tf.train.sgd(0.1), { statsBatchSize: 3 });
  const x = randomTensor([5, 4], 9);
  const y = randomTensor([5, 3], 10);
  const { value, grads } = tf.variableGrads(
    () =>
      tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
  );
  tf.dispose(opt.precondition(grads)!.map((r) => r.tensor));
  const state = new Map((await opt.getWeights()).map((w) => [w.name, w.tensor]));
  const rows = matrix(x, 5)
    .slice(0, 3)
    .map((r) => [...r, 1]);
  const expectedA = new Matrix(rows).transpose().mmul(new Matrix(rows)).div(3).to2DArray();
  assertClose(values(state.get('kfac/0/A')!), expectedA.flat(), 1e-5, 'A');
  // Gradient rows: d loss / d pre-activation for the first 3 samples (MSE over 5*3 entries).
  const kernel = matrix(model.layers[0]!.getWeights()[0]!, 4);
  const bias = values(model.layers[0]!.getWeights()[1]!);
  const yv = matrix(y, 5);
  const gRows = rows.map((r, n) =>
    Array.from({ length: 3 }, (_, o) => {
      const z = r.slice(0, 4).reduce((s, v, i) => s + v * kernel[i]![o]!, bias[o]!);
      const out = Math.max(z, 0);
      return z > 0 ? (2 * (out - yv[n]![o]!)) / 15 : 0;
    }),
  );
  const expectedG = new Matrix(gRows).transpose().mmul(new Matrix(gRows)).div(3).to2DArray();
  assertClose(values(state.get('kfac/0/G')!), expectedG.flat(), 1e-4, 'G');
  tf.dispose([x, y, value, ...Object.values(grads)]);
  opt.dispose();
  model.dispose();
});

test('FOOF equals I (x) (A + gamma I)^-1 solved densely, KL-normalised', async () => {
  const damping = 0.05;
  const run = await runOnce((m) => new FOOF(m, tf.train.sgd(0.1), { damping, statsBatchSize: 5 }));
  checkLayerwise(
    run,
    layerInfos(run.optimizer as FOOF),
    (info) =>
      kron(
        identity(info.out),
        addIdentity(read2d(run.state.get(`foof/${info.index}/A`)!), damping),
      ),
    ({ pg }) => 1 / Math.sqrt(pg),
  );
  run.cleanup();
});

for (const divideByDamping of [true, false]) {
  test(`EvaF equals I (x) (a a^T + gamma I)^-1 solved densely (divideByDamping ${divideByDamping})`, async () => {
    const damping = 0.05;
    const run = await runOnce(
      (m) =>
        new EvaF(m, tf.train.sgd(0.1), {
          damping,
          statsBatchSize: 5,
          divideByDamping,
          factorDecay: 0.7,
        }),
      2,
    );
    checkLayerwise(
      run,
      layerInfos(run.optimizer as EvaF),
      (info) => {
        const a = values(run.state.get(`evaf/${info.index}/a`)!);
        const aa = a.map((x) => a.map((y) => x * y));
        const c = kron(identity(info.out), addIdentity(aa, damping));
        return divideByDamping ? c : c.div(damping);
      },
      ({ pg }) => 1 / Math.sqrt(pg),
    );
    run.cleanup();
  });
}

/** Row-major outer product of vectors. */
function outer(vectors: number[][]): number[] {
  return vectors.reduce<number[]>((acc, v) => acc.flatMap((x) => v.map((y) => x * y)), [1]);
}

test('EvaS: axis vectors are running sums of axis means; P solves (v v^T + gamma I) and is grafted', async () => {
  const damping = 0.05;
  const run = await runOnce((m) => new EvaS(m, tf.train.sgd(0.1), { damping }), 2);
  let checked = 0;
  for (const [index, weight] of run.model.trainableWeights.entries()) {
    const name = (weight.read() as tf.Variable).name;
    const g = run.grads[name]!;
    if (g.rank < 2) {
      assertClose(values(run.result.get(name)!), values(g), 1e-6, `${name} (vector) unchanged`);
      continue;
    }
    const vectors = g.shape.map((_, axis) => values(run.state.get(`evas/${index}/v${axis}`)!));
    const v = outer(vectors);
    const c = new Matrix(v.map((x, i) => v.map((y, j) => x * y + (i === j ? damping : 0))));
    const gv = values(g);
    const p = solveDense(c, gv);
    const norm = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0));
    const grafted = p.map((x) => (x * norm(gv)) / norm(p));
    assertClose(values(run.result.get(name)!), grafted, 5e-4, name);
    checked += 1;
  }
  assert.equal(checked, 4);
  run.cleanup();
  // Axis vectors after one step are the plain axis means (beta2 = 1 sums from zero).
  const single = await runOnce((m) => new EvaS(m, tf.train.sgd(0.1)));
  const kernel = single.model.trainableWeights[0]!;
  const g = single.grads[(kernel.read() as tf.Variable).name]!;
  const gv = values(g);
  const cout = g.shape[3]!;
  const rows = gv.length / cout;
  const meanOverOthers = Array.from({ length: cout }, (_, o) => {
    let s = 0;
    for (let i = 0; i < rows; i++) s += gv[i * cout + o]!;
    return s / rows;
  });
  assertClose(values(single.state.get('evas/0/v3')!), meanOverOthers, 1e-5, 'v3 of conv kernel');
  single.cleanup();
});

test('Shampoo equals the blockwise Kronecker product of float64 inverse roots, grafted', async () => {
  const eps = 1e-3;
  const blockSize = 4;
  const run = await runOnce(
    (m) => new Shampoo(m, tf.train.sgd(0.1), { blockSize, matrixEps: eps }),
    2,
  );
  const norm = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0));
  let blocked = 0;
  for (const weight of run.model.trainableWeights) {
    const name = (weight.read() as tf.Variable).name;
    const g1 = run.grads[name]!;
    if (g1.rank < 2) {
      assertClose(values(run.result.get(name)!), values(g1), 1e-6, `${name} (vector) unchanged`);
      continue;
    }
    const layout = blockLayout(g1.shape, blockSize);
    const gv = values(g1);
    // Independent statistics: the test replays both steps' gradients.
    const direction = new Array<number>(gv.length).fill(0);
    const strides = layout.merged.map((_, i) =>
      layout.merged.slice(i + 1).reduce((p, d) => p * d, 1),
    );
    const history = run.history.get(name)!;
    if (layout.blocks.length > 1) blocked += 1;
    for (const block of layout.blocks) {
      const positions: number[] = [];
      const visit = (axis: number, offset: number) => {
        if (axis === block.size.length) return void positions.push(offset);
        for (let i = 0; i < block.size[axis]!; i++)
          visit(axis + 1, offset + (block.begin[axis]! + i) * strides[axis]!);
      };
      visit(0, 0);
      const k = block.size.length;
      const roots = block.size.map((size, axis) => {
        let l = addIdentity(
          Array.from({ length: size }, () => new Array<number>(size).fill(0)),
          eps,
        );
        for (const past of history) {
          const blockValues = positions.map((p) => past[p]!);
          const moved = unfold(blockValues, block.size, axis);
          l = l.map((row, i) => row.map((v, j) => v + dot(moved[i]!, moved[j]!)));
        }
        const lambdaMax = Math.max(
          ...new EigenvalueDecomposition(new Matrix(l), { assumeSymmetric: true }).realEigenvalues,
        );
        return symmetricPower(l, -1 / (2 * k), eps * lambdaMax);
      });
      const kron2 = roots
        .slice(1)
        .reduce((acc, r) => kron(acc.to2DArray(), r), new Matrix(roots[0]!));
      const p = kron2.mmul(Matrix.columnVector(positions.map((q) => gv[q]!))).getColumn(0);
      positions.forEach((q, i) => (direction[q] = p[i]!));
    }
    const grafted = direction.map((x) => (x * norm(gv)) / norm(direction));
    assertClose(values(run.result.get(name)!), grafted, 2e-3, name);
  }
  assert.ok(blocked >= 1, 'the test must exercise block partitioning');
  run.cleanup();
});

function dot(a: number[], b: number[]): number {
  return a.reduce((s, x, i) => s + x * b[i]!, 0);
}

/** Rows of the mode-`axis` unfolding of a row-major tensor of `shape`. */
function unfold(data: number[], shape: number[], axis: number): number[][] {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
  const rows = Array.from({ length: shape[axis]! }, () => [] as number[]);
  data.forEach((v, flat) => {
    const index = Math.floor(flat / strides[axis]!) % shape[axis]!;
    rows[index]!.push(v);
  });
  return rows;
}

test('MFAC equals (lambda I + (1/m) sum of the last m gradients g g^T)^-1 g solved densely', async () => {
  const m = 2;
  const lambda = 0.01;
  const model = buildModel();
  const opt = new MFAC(model, tf.train.sgd(0.1), { m, damping: lambda, weightDecay: 0.1 });
  const order = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
  const window: number[][] = [];
  let last: { flat: number[]; result: NamedTensor[] } | null = null;
  for (let s = 0; s < 3; s++) {
    const x = randomTensor([4, 6, 6, 2], 20 + s);
    const y = randomTensor([4, 3], 40 + s);
    const { value, grads } = tf.variableGrads(
      () =>
        tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    );
    // Weight decay joins the gradient before the window (reference semantics).
    const flat = order.flatMap((name) => {
      const variable = tf.engine().registeredVariables[name]!;
      const gv = values(grads[name]!);
      const wv = values(variable);
      return gv.map((g, i) => g + 0.1 * wv[i]!);
    });
    window.push(flat);
    if (window.length > m) window.shift();
    if (last) tf.dispose(last.result.map((r) => r.tensor));
    last = { flat, result: opt.precondition(grads)! };
    tf.dispose([x, y, value, ...Object.values(grads)]);
  }
  const d = last!.flat.length;
  const f = Matrix.eye(d, d).mul(lambda);
  for (const g of window) f.add(Matrix.columnVector(g).mmul(Matrix.rowVector(g)).div(m));
  const expected = solveDense(f, last!.flat);
  const byName = new Map(last!.result.map((r) => [r.name, r.tensor]));
  const actual = order.flatMap((name) => values(byName.get(name)!));
  assertClose(actual, expected, 1e-3, 'M-FAC direction');
  tf.dispose(last!.result.map((r) => r.tensor));
  opt.dispose();
  model.dispose();
});
