/**
 * Option validation across the family: bad options are rejected by name, listing what is valid.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createOptimizerByName, EvaS, FOOF, KFAC, MFAC, Shampoo } from '../../src/index.js';
import { initializedAutoencoder, useCpu } from '../helpers.js';

before(useCpu);

test('bad options of the family are rejected by name, listing what is valid', () => {
  const model = initializedAutoencoder();
  const base = tf.train.momentum(0.1, 0.9);
  assert.throws(
    () => new KFAC(model, base, { invUpdateFreq: 0 }),
    /'invUpdateFreq' must be a positive integer/,
  );
  assert.throws(
    () => new KFAC(model, base, { linalg: 'lu' as 'host' }),
    /'linalg' must be one of 'host', 'newton', 'blocked'/,
  );
  assert.throws(
    () => new FOOF(model, base, { klNormalize: 1 as unknown as boolean }),
    /'klNormalize' must be true or false, got 1$/,
  );
  assert.throws(
    () => new FOOF(model, base, { klNormalize: 'false' as unknown as boolean }),
    /'klNormalize' must be true or false, got the string 'false'$/,
  );
  assert.throws(
    () => new Shampoo(model, base, { graft: 'adam' as 'sgd' }),
    /'graft' must be 'sgd' or 'none'/,
  );
  assert.throws(
    () => new Shampoo(model, base, { blockSize: 1.5 }),
    /'blockSize' must be a positive integer/,
  );
  assert.throws(() => new EvaS(model, base, { beta2: 0 }), /'beta2' must be in \(0, 1\]/);
  assert.throws(
    () => new EvaS(model, base, { klClip: 1 } as object),
    /EvaS: unknown option 'klClip'; valid options are beta2, damping/,
  );
  assert.throws(
    () => new MFAC(model, base, { m: 1000, maxWindowBytes: 1e5 }),
    /MFAC: a window of m = 1000 gradients of \d+ parameters needs \d+\.\d\d MiB, more than maxWindowBytes = 97\.66 KiB/,
  );
  assert.throws(
    () => new MFAC(model, base, { m: 1, maxWindowBytes: 1 }),
    /needs 1\.06 KiB, more than maxWindowBytes = 1 byte; lower 'm' or raise 'maxWindowBytes'/,
  );
  assert.throws(
    () => createOptimizerByName('adam', model, { learningRate: 0.1, momentum: 0.9 }),
    /adam: unknown option 'momentum'/,
  );
  base.dispose();
  model.dispose();
});
