/** The readout's "first reached" rule: a 10-step mean at or below the target. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LossPoint } from '../src/charts.js';
import { firstReached, SMOOTHING_STEPS } from '../src/target-readout.js';

/** Points with losses `losses`, 0.5 s per step. */
function points(losses: readonly number[]): LossPoint[] {
  return losses.map((loss, i) => ({ step: i + 1, seconds: (i + 1) / 2, loss, learningRate: 0.1 }));
}

test('the target is reached when the mean of the last 10 losses gets to it', () => {
  const losses = Array.from({ length: 30 }, (_, i) => 1 - i / 30);
  const hit = firstReached(points(losses), 0.6);
  // The mean of losses i-9..i is 1 - (i - 4.5) / 30 <= 0.6 from i = 16.5, so at step 18.
  assert.deepEqual(hit, { step: 18, seconds: 9 });
});

test('one lucky batch does not reach the target; fewer than 10 steps never do', () => {
  const losses = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.1, 1, 1];
  assert.equal(firstReached(points(losses), 0.5), null);
  assert.equal(firstReached(points(Array(SMOOTHING_STEPS - 1).fill(0.1)), 0.5), null);
  assert.deepEqual(firstReached(points(Array(SMOOTHING_STEPS).fill(0.1)), 0.5)?.step, 10);
});

test('non-finite losses never reach it', () => {
  assert.equal(firstReached(points(Array(20).fill(NaN)), 0.5), null);
  assert.equal(firstReached(points([Infinity, ...Array(12).fill(0.1)]), 0.5)?.step, 11);
});
