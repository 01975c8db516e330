/** The demo's schedule: warm-up, then constant or linear decay, cut to the run's length. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scheduleFor } from '../src/schedule.js';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

test('linear warm-up to the peak, then constant', () => {
  const lr = scheduleFor(0.1, { warmupSteps: 4, decay: 'constant', totalSteps: 10 });
  [0.025, 0.05, 0.075, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1].forEach((v, step) => close(lr(step), v));
});

test('linear decay reaches zero only after the last step (every step has a positive lr)', () => {
  const lr = scheduleFor(1, { warmupSteps: 2, decay: 'linear', totalSteps: 6 });
  [0.5, 1, 1, 0.75, 0.5, 0.25].forEach((v, step) => close(lr(step), v));
});

test('a run shorter than its warm-up ends while the lr rises; no warm-up at all works', () => {
  const lr = scheduleFor(1, { warmupSteps: 8, decay: 'linear', totalSteps: 5 });
  [0.125, 0.25, 0.375, 0.5, 0.625].forEach((v, step) => close(lr(step), v));
  close(scheduleFor(0.3, { warmupSteps: 0, decay: 'constant', totalSteps: 1 })(0), 0.3);
});
