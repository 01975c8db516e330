/**
 * Gradual unfreezing with `layer.trainable` through model.fit, with the optimizer kept across
 * the recompile, and saved (getWeights, or model.save + tf.loadLayersModel + attachOptimizer)
 * before or after the unfreezing: every resumed run equals the uninterrupted one. Slots are
 * keyed by positions that do not depend on which layers are frozen when.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attachOptimizer,
  createOptimizerByName,
  disposeIterationCounters,
} from '../../src/index.js';
import { trainableCapableVariables } from '../../src/optimizer/model-variables.js';
import { randomTensor, saveToMemory, useCpu } from '../helpers.js';

before(useCpu);

/** Optimizers (with options) covering both slot tables, layer-wise and tensor-wise state. */
const CASES: Array<[string, Record<string, unknown>]> = [
  ['sgd', {}],
  ['adam', {}],
  ['eva', {}],
  ['kfac', {}],
  ['evas', {}],
  ['shampoo', { blockSize: 4 }],
  ['mfac', { m: 4 }],
];

/** Two Dense layers of different shapes (a mix-up is an error) with seeded weights. */
function build(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [6], units: 5, activation: 'tanh', name: 'd0' }),
      tf.layers.dense({ units: 3, name: 'd1' }),
    ],
  });
  const weights = model.getWeights().map((w, i) => randomTensor(w.shape, 160 + i, 0.4));
  model.setWeights(weights);
  tf.dispose(weights);
  return model;
}

const x = () => randomTensor([16, 6], 170);
const y = () => randomTensor([16, 3], 171);

async function fit(model: tf.LayersModel, frozen: boolean, data: tf.Tensor[]): Promise<void> {
  model.getLayer('d0').trainable = !frozen;
  model.compile({ optimizer: model.optimizer, loss: 'meanSquaredError' });
  await model.fit(data[0]!, data[1]!, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
}

const read = (model: tf.LayersModel) =>
  model.layers.flatMap((l) => l.getWeights()).map((w) => Array.from(w.dataSync()));

/** The phases: frozen, frozen, unfrozen, unfrozen (an epoch of 2 steps each). */
const PHASES = [true, true, false, false];

for (const [name, options] of CASES) {
  const ownsTrainableOnly = name === 'shampoo' || name === 'mfac';
  test(`${name}: unfreezing with model.fit resumes exactly from saves before and after it`, async () => {
    const data = [x(), y()];
    const start = () => {
      const model = build();
      model.getLayer('d0').trainable = false; // built while frozen
      const optimizer = createOptimizerByName(name, model, { learningRate: 0.05, ...options });
      model.compile({ optimizer, loss: 'meanSquaredError' });
      return model;
    };
    // Shampoo and M-FAC keep no state for d0 (frozen when built): it keeps its plain gradient.
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (message: string) => warnings.push(message);
    const reference = start();
    for (const frozen of PHASES) await fit(reference, frozen, data);
    if (ownsTrainableOnly) {
      // Once per variable of d0, over the 4 unfrozen steps.
      assert.deepEqual(
        warnings.map((w) => /'(d0\/\w+)' was frozen when the optimizer was built/.exec(w)?.[1]),
        ['d0/kernel', 'd0/bias'],
      );
    }
    const expected = read(reference);
    for (const saveAfter of [1, 3]) {
      const hows = ['getWeights', 'model.save'];
      // First-order ones are rebuilt by tfjs itself: they also resume without attachOptimizer.
      if (name === 'sgd' || name === 'adam') hows.push('model.save without attachOptimizer');
      for (const how of hows) {
        const first = start();
        for (const frozen of PHASES.slice(0, saveAfter)) await fit(first, frozen, data);
        let resumed: tf.LayersModel;
        if (how.startsWith('model.save')) {
          resumed = await tf.loadLayersModel(tf.io.fromMemory(await saveToMemory(first)));
          if (ownsTrainableOnly && saveAfter > 1) {
            // Rebuilt with d0 trainable, it would precondition d0: the state is refused.
            await assert.rejects(attachOptimizer(resumed), /Shampoo|MFAC/);
            for (const m of [first, resumed]) m.dispose();
            first.optimizer.dispose();
            continue;
          }
          if (how === 'model.save') await attachOptimizer(resumed);
        } else {
          resumed = start();
          // (Layer by layer: model.getWeights() lists trainable weights first.)
          resumed.layers.forEach((l, i) => l.setWeights(first.layers[i]!.getWeights()));
          const state = await first.optimizer.getWeights();
          await resumed.optimizer.setWeights(state);
          disposeIterationCounters(state);
        }
        for (const frozen of PHASES.slice(saveAfter)) await fit(resumed, frozen, data);
        assert.deepEqual(read(resumed), expected, `${name}: ${how} after phase ${saveAfter}`);
        for (const m of [first, resumed]) {
          m.optimizer.dispose();
          m.dispose();
        }
      }
    }
    console.warn = warn;
    reference.optimizer.dispose();
    reference.dispose();
    tf.dispose(data);
  });
}

test('the weights that can train are listed alike whatever is frozen (RNN, wrappers, BatchNorm)', () => {
  const build = () =>
    tf.sequential({
      layers: [
        tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 4 }), inputShape: [5, 3] }),
        tf.layers.batchNormalization(),
        tf.layers.bidirectional({
          layer: tf.layers.lstm({ units: 2, returnSequences: true }) as never,
        }),
        tf.layers.rnn({
          cell: [tf.layers.lstmCell({ units: 2 }), tf.layers.gruCell({ units: 2 })],
          returnSequences: true,
        }),
        tf.layers.gru({ units: 3 }),
        tf.layers.dense({ units: 2 }),
      ],
    });
  const names = (model: tf.LayersModel) => trainableCapableVariables(model).map((v) => v.name);
  const freezers: Array<[string, (model: tf.Sequential) => void]> = [
    ...[0, 1, 2, 3, 4, 5].map((i): [string, (model: tf.Sequential) => void] => [
      `layer ${i}`,
      (model) => {
        model.layers[i]!.trainable = false;
      },
    ]),
    // Inside wrappers: tfjs lists a wrapper's weights trainable first, which reorders them.
    [
      "the Bidirectional's forward layer",
      (model) => {
        (model.layers[2] as unknown as { forwardLayer: tf.layers.Layer }).forwardLayer.trainable =
          false;
      },
    ],
    [
      'the first of stacked cells',
      (model) => {
        const rnn = model.layers[3] as unknown as { cell: { cells: tf.layers.Layer[] } };
        rnn.cell.cells[0]!.trainable = false;
      },
    ],
  ];
  for (const [what, freeze] of freezers) {
    const model = build();
    const all = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
    assert.deepEqual(names(model), all, 'with nothing frozen: model.trainableWeights');
    freeze(model);
    assert.deepEqual(names(model), all, `with ${what} frozen`);
    model.dispose();
  }
});
