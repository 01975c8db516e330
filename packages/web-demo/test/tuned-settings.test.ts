/** The demo's tuned learning rates and defaults. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { optimizerEntry, optimizerNames } from 'eva-tfjs';
import {
  DEFAULT_SETTINGS,
  initialLearningRateOf,
  TUNED_LEARNING_RATES,
} from '../src/tuned-settings.js';

const MODELS = ['autoencoder', 'mlp'] as const;

test('every tuned entry names a registered optimizer and says where it comes from', () => {
  for (const model of MODELS) {
    for (const [name, tuned] of Object.entries(TUNED_LEARNING_RATES[model])) {
      assert.ok(optimizerNames().includes(name), `${name} is not registered`);
      assert.ok(tuned.learningRate > 0, name);
      assert.ok(tuned.source.length > 10, `${model} ${name}: no source`);
    }
  }
});

test("every tuned learning rate is its sweep's best, inside the sweep's grid", () => {
  for (const model of MODELS) {
    for (const [name, tuned] of Object.entries(TUNED_LEARNING_RATES[model])) {
      const rates = tuned.trials.map(([lr]) => lr);
      assert.deepEqual(
        rates,
        [...rates].sort((a, b) => a - b),
        `${model} ${name}: ascending`,
      );
      const losses = tuned.trials.map(([, loss]) => loss);
      const best = losses.indexOf(Math.min(...losses));
      assert.equal(tuned.learningRate, rates[best], `${model} ${name}`);
      assert.ok(
        best > 0 && best < rates.length - 1,
        `${model} ${name}: the best, ${rates[best]}, is at the edge of ${rates.join(', ')}`,
      );
      for (const lr of rates) assert.ok(tuned.source.includes(`${lr}: `), `${model} ${name}`);
    }
  }
});

test('every registered optimizer starts at its tuned value, else its registry test value', () => {
  for (const model of MODELS) {
    for (const name of optimizerNames()) {
      const { value, tuned } = initialLearningRateOf(name, model);
      const expected = TUNED_LEARNING_RATES[model][name]?.learningRate;
      assert.equal(value, expected ?? optimizerEntry(name).testing.learningRate, name);
      assert.equal(tuned != null, expected != null, name);
    }
  }
});

test('the default run warms up for part of it and has a target for every model', () => {
  assert.ok(DEFAULT_SETTINGS.warmupSteps > 0);
  assert.ok(DEFAULT_SETTINGS.warmupSteps < DEFAULT_SETTINGS.steps);
  for (const target of Object.values(DEFAULT_SETTINGS.target)) assert.ok(target > 0);
});
