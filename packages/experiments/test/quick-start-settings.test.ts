/**
 * `npm start` (the README's quick start) compares Eva with SGD, each at its tuned learning rate:
 * the lrs in the start script must be the best of the recorded sweeps in results/, inside their
 * grids, at the same settings as the sweeps, and the note it prints must name those grids.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const root = new URL('../../../', import.meta.url);
const read = (path: string) => JSON.parse(readFileSync(new URL(path, root), 'utf8')) as unknown;

interface Sweep {
  settings: { details: Record<string, unknown> };
  runs: { result: { learningRate: number; epochs: { testLoss: number }[] } }[];
}

const start = (read('package.json') as { scripts: { start: string } }).scripts.start;
const flag = (name: string) => new RegExp(`--${name} (\\S+)`).exec(start)?.[1];

test('npm start: each optimizer at the best lr of its recorded sweep, inside the grid', () => {
  const lrFor = Object.fromEntries(
    (flag('lr-for') ?? '').split(',').map((pair) => pair.split('=') as [string, string]),
  );
  assert.deepEqual(Object.keys(lrFor).sort(), ['eva', 'sgd']);
  for (const optimizer of ['sgd', 'eva']) {
    const sweep = read(`results/quick-start-${optimizer}-lr/results.json`) as Sweep;
    const finals = sweep.runs.map((run) => ({
      lr: run.result.learningRate,
      loss: run.result.epochs.at(-1)!.testLoss,
    }));
    const best = finals.reduce((a, b) => (b.loss < a.loss ? b : a));
    const grid = finals.map((f) => f.lr).sort((a, b) => a - b);
    assert.equal(Number(lrFor[optimizer]), best.lr, `${optimizer}: start's lr vs the sweep's best`);
    assert.ok(
      best.lr > grid[0]! && best.lr < grid.at(-1)!,
      `${optimizer}: best at the grid's edge`,
    );
    assert.match(start, new RegExp(`${optimizer} ${best.lr} \\(best of ${grid.join(', ')}`));
    const details = sweep.settings.details;
    assert.equal(details['batch size'], Number(flag('batch-size')));
    assert.equal(details.schedule, `${flag('warmup-epochs')} warm-up epochs, then linear decay`);
    assert.equal(details.epochs, 10, 'the start runs the default 10 epochs');
    assert.equal(details.model, 'autoencoder');
    assert.match(String(details.dataset), /^mnist /);
  }
});
