/**
 * The learning-rate schedules: warm-up, then constant, linear, cosine, polynomial or step decay.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { warmupDecaySchedule } from '../../src/index.js';
import { assertClose, useCpu } from '../helpers.js';

before(useCpu);

test('schedules: warm-up then constant, linear, cosine, polynomial and step decay', () => {
  const base = { learningRate: 1, totalSteps: 10, warmupSteps: 2 };
  const at = (o: object) => [0, 1, 2, 6, 10].map(warmupDecaySchedule({ ...base, ...o }));
  assert.deepEqual(at({ decay: 'constant' }), [0.5, 1, 1, 1, 1]);
  assert.deepEqual(at({ decay: 'linear' }), [0.5, 1, 1, 0.5, 0]);
  assertClose(at({ decay: 'cosine' }), [0.5, 1, 1, 0.5, 0], 1e-12, 'cosine');
  assert.deepEqual(at({ decay: 'polynomial', power: 2 }), [0.5, 1, 1, 0.25, 0]);
  assertClose(
    at({ decay: 'step', milestones: [6, 8], gamma: 0.5 }),
    [0.5, 1, 1, 0.5, 0.25],
    1e-12,
    'step',
  );
  assert.deepEqual(at({ decay: 'linear', finalFraction: 0.1 }).at(-1), 0.1);
  assert.throws(() => warmupDecaySchedule({ ...base, warmupSteps: 10 }), /warmupSteps/);
  assert.throws(() => warmupDecaySchedule({ ...base, learningRate: 0 }), /learningRate/);
});
