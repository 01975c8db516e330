/**
 * Resume from a state saved while some layers have no statistics yet (gradual unfreezing, heads
 * trained on alternate steps) or statistics but no inverses yet: every registry optimizer (the
 * second-order ones on the library's SGD), and K-FAC/FOOF with their inverse worker, continue
 * exactly as an uninterrupted run.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createOptimizerByName,
  disposeIterationCounters,
  optimizerEntry,
  optimizerNames,
} from '../../src/index.js';
import { mseStep, randomTensor, twoLayerModel, useCpu, stateCopy } from '../helpers.js';

before(useCpu);

const STEPS = 5;
/** Steps before this train the last layer only. */
const UNFREEZE = 1;

/** Built by name: on the library's SGD with momentum, whose slots follow their variables. */
function setup(name: string, options: Record<string, unknown>) {
  const model = twoLayerModel(80);
  const { learningRate, options: testing } = optimizerEntry(name).testing;
  const optimizer = createOptimizerByName(name, model, { learningRate, ...testing, ...options });
  return { model, optimizer };
}

function step(
  { model, optimizer }: ReturnType<typeof setup>,
  index: number,
  x: tf.Tensor,
  y: tf.Tensor,
): void {
  mseStep(model, optimizer, x, y, index < UNFREEZE);
}

const cases: Array<[string, Record<string, unknown>]> = [
  ...optimizerNames()
    // Statistics every step, inverses every third: after step 2 the first layer has factors
    // (from step 1) but no inverses (refreshed at steps 0 and 3).
    .map((name): [string, Record<string, unknown>] => [
      name,
      ['kfac', 'foof', 'shampoo'].includes(name) ? { invUpdateFreq: 3 } : {},
    ]),
  ['kfac', { invUpdateFreq: 3, inverseWorker: true }],
  ['foof', { invUpdateFreq: 3, inverseWorker: true }],
];

for (const [name, options] of cases) {
  const label = `${name}${options.inverseWorker ? ' (inverseWorker)' : ''}`;
  test(`${label}: resumes exactly from states saved before every layer has statistics or inverses`, async () => {
    const x = randomTensor([16, 12], 90);
    const y = randomTensor([16, 4], 91);
    const reference = setup(name, options);
    for (let i = 0; i < STEPS; i++) step(reference, i, x, y);
    const expected = reference.model.getWeights().map((w) => Array.from(w.dataSync()));
    for (const saveAfter of [UNFREEZE, UNFREEZE + 1]) {
      const first = setup(name, options);
      for (let i = 0; i < saveAfter; i++) step(first, i, x, y);
      const weights = first.model.getWeights().map((w) => w.clone());
      const state = await stateCopy(first.optimizer);
      if (name === 'kfac' || name === 'foof') {
        // The case under test: the first layer without factors, then without inverses.
        const names = state.map((w) => w.name);
        assert.equal(names.includes(`${name}/0/A`), saveAfter > UNFREEZE, label);
        assert.ok(!names.includes(`${name}/0/inverseA`), `${label}: ${names}`);
      }
      first.optimizer.dispose();
      first.model.dispose();

      const resumed = setup(name, options);
      resumed.model.setWeights(weights);
      await resumed.optimizer.setWeights(state);
      tf.dispose([...weights, ...state.map((w) => w.tensor)]);
      for (let i = saveAfter; i < STEPS; i++) step(resumed, i, x, y);
      assert.deepEqual(
        resumed.model.getWeights().map((w) => Array.from(w.dataSync())),
        expected,
        `${label}: resumed after step ${saveAfter - 1} differs from the uninterrupted run`,
      );
      resumed.optimizer.dispose();
      resumed.model.dispose();
    }
    reference.optimizer.dispose();
    reference.model.dispose();
    tf.dispose([x, y]);
  });
}

test('a state dropping one slot of a group is still refused by name', async () => {
  const x = randomTensor([16, 12], 92);
  const y = randomTensor([16, 4], 93);
  const run = setup('kfac', { invUpdateFreq: 3 });
  for (let i = 0; i < UNFREEZE + 1; i++) step(run, i, x, y);
  const saved = await run.optimizer.getWeights();
  const state = saved.filter(
    (w) => !/^kfac\/\d+\/inverseG$/.test(w.name) || !w.name.includes('/1/'),
  );
  assert.ok(state.length < saved.length, 'the state has an inverseG for the last layer');
  await assert.rejects(
    run.optimizer.setWeights(state),
    /KFAC\.setWeights: the state lacks 'kfac\/1\/inverseG' \(for '.*'\) beside 'kfac\/1\/inverseA'/,
  );
  disposeIterationCounters(saved);
  run.optimizer.dispose();
  run.model.dispose();
  tf.dispose([x, y]);
});
