/** The demo's URL parameters. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readUrlParams } from '../src/url-params.js';

test('defaults: SGD and Eva, no fields, tuned learning rates, no autostart', () => {
  const params = readUrlParams('');
  assert.deepEqual(params.optimizers, ['sgd', 'eva']);
  assert.equal(params.backend, null);
  assert.deepEqual(params.fields, {});
  assert.deepEqual(params.learningRates, { byOptimizer: {} });
  assert.equal(params.autostart, false);
});

test('fields, a learning rate for all or per optimizer', () => {
  const params = readUrlParams(
    '?optimizers=kfac&backend=webgl&steps=20&warmup=0&decay=linear&target=0.6&lr=0.05&autostart=1',
  );
  assert.deepEqual(params.optimizers, ['kfac']);
  assert.equal(params.backend, 'webgl');
  assert.deepEqual(params.fields, { steps: '20', warmup: '0', decay: 'linear', target: '0.6' });
  assert.deepEqual(params.learningRates, { all: '0.05', byOptimizer: {} });
  assert.equal(params.autostart, true);
  assert.deepEqual(readUrlParams('?lr=SGD:1,eva:0.05').learningRates, {
    byOptimizer: { sgd: '1', eva: '0.05' },
  });
});
