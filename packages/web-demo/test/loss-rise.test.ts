/** The spike measure of the demo's defaults: a windowed mean against the lowest one before it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { largestRise } from '../src/loss-rise.js';

test('a falling curve has rise 1; a rise after a fall is measured from the lowest mean', () => {
  assert.deepEqual(largestRise([5, 4, 3, 2, 1], 1), { ratio: 1, step: 0 });
  // Falls to 0.5, then climbs to 0.8: 1.6x, although 0.8 is below the first loss.
  assert.deepEqual(largestRise([1, 0.7, 0.5, 0.6, 0.8, 0.4], 1), { ratio: 1.6, step: 5 });
});

test('windowed means smooth single-batch noise', () => {
  const noisy = [1, 0.9, 1.1, 0.8, 1.0, 0.7, 0.9, 0.6, 0.8, 0.5];
  assert.ok(largestRise(noisy, 1).ratio > 1.3);
  // Means of 2: 0.95, 1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65: one rise of 1.0 / 0.95.
  const rise = largestRise(noisy, 2);
  assert.equal(rise.step, 3);
  assert.ok(Math.abs(rise.ratio - 1 / 0.95) < 1e-12);
});

test('a non-finite loss is an infinite rise; bad windows are errors', () => {
  assert.deepEqual(largestRise([1, NaN, 0.5], 1), { ratio: Infinity, step: 2 });
  assert.deepEqual(largestRise([1, 0.5]), { ratio: 1, step: 0 }, 'shorter than a window');
  assert.throws(() => largestRise([1], 0), /window must be a whole number >= 1, got 0/);
});
