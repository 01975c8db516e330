/**
 * The command line end to end on small data (subprocesses on the cpu backend): train with a
 * JSON log, checkpoint and resume; compare and sweep reports; bench tables; clear errors.
 */
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';

/** A path inside this package (tests may run from any directory). */
const packagePath = (path: string): string => fileURLToPath(new URL(`../${path}`, import.meta.url));

const run = promisify(execFile);
const tmp = () => mkdtempSync(join(tmpdir(), 'eva-cli-'));

async function cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--conditions=eva-tfjs-source', '--import', 'tsx', packagePath('src/cli/main.ts'), ...args],
      {
        timeout: 240_000,
        maxBuffer: 16 * 2 ** 20,
      },
    );
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    return { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: err.code ?? -1 };
  }
}

const small = [
  '--train-limit',
  '32',
  '--test-limit',
  '16',
  '--batch-size',
  '16',
  '--backend',
  'cpu',
];

test('train: progress, per-epoch metrics, JSON log, checkpoint, --resume', async () => {
  const out = tmp();
  const first = await cli([
    'train',
    '--data',
    'curves',
    '--optimizer',
    'eva',
    '--epochs',
    '2',
    ...small,
    '--out',
    out,
  ]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /eva epoch {3}2 {2}train loss \d/);
  assert.match(first.stdout, /final train loss/);
  const log = () =>
    readFileSync(join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { epoch: number });
  assert.deepEqual(
    log().map((r) => r.epoch),
    [1, 2],
  );
  assert.ok(existsSync(join(out, 'checkpoint', 'checkpoint.json')));
  const resumed = await cli([
    'train',
    '--data',
    'curves',
    '--optimizer',
    'eva',
    '--epochs',
    '3',
    ...small,
    '--out',
    out,
    '--resume',
  ]);
  assert.notEqual(
    resumed.code,
    0,
    'a checkpoint of a 2-epoch run is another run than a 3-epoch one',
  );
  assert.match(resumed.stderr, /is of another run/);
  const again = await cli([
    'train',
    '--data',
    'curves',
    '--optimizer',
    'eva',
    '--epochs',
    '2',
    ...small,
    '--out',
    out,
    '--resume',
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /resumed after epoch 2/);
});

test('compare: classifier report with accuracy, per-optimizer learning rates and plots', async () => {
  const out = tmp();
  const result = await cli([
    'compare',
    '--model',
    'mlp',
    '--data',
    'mnist',
    '--optimizers',
    'sgd,adam',
    '--lr-for',
    'adam=0.001',
    '--epochs',
    '2',
    ...small,
    '--out',
    out,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const summary = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.match(summary, /\| adam \| 0\.001 \|/);
  assert.match(summary, /\| sgd \| 0\.1 \|/);
  assert.match(summary, /target test accuracy/);
  assert.match(summary, /eva-tfjs compare --model mlp/);
  for (const f of ['test-accuracy-vs-epoch.svg', 'test-loss-vs-time.svg'])
    assert.ok(existsSync(join(out, f)), f);
});

test('sweep: one run per value, labelled, reported like compare', async () => {
  const out = tmp();
  const result = await cli([
    'sweep',
    '--warmup-epochs',
    '0',
    '--data',
    'curves',
    '--optimizer',
    'sgd',
    '--param',
    'lr',
    '--values',
    '0.01,0.1',
    '--epochs',
    '1',
    ...small,
    '--out',
    out,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const summary = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.match(summary, /\| sgd lr=0\.01 \| 0\.01 \|/);
  assert.match(summary, /\| sgd lr=0\.1 \| 0\.1 \|/);
});

test('bench: time and memory relative to SGD, appended to bench.md', async () => {
  const out = tmp();
  const result = await cli([
    'bench',
    '--model',
    'mlp',
    '--optimizers',
    'sgd,eva,kfac@2',
    '--steps',
    '2',
    '--batch-size',
    '8',
    '--backend',
    'cpu',
    '--out',
    out,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const table = readFileSync(join(out, 'bench.md'), 'utf8');
  assert.match(table, /\| sgd \| [\d.]+ \| 2 \| 1\.00 \|/);
  assert.match(table, /\| eva \| [\d.]+ \| 2 \|/);
  assert.match(table, /\| kfac@2 \| [\d.]+ \| 2 \|/);
});

test('errors: options no chosen optimizer takes, unknown names, bad values', async () => {
  const unused = await cli(['compare', '--optimizers', 'sgd', '--block-size', '4', ...small]);
  assert.equal(unused.code, 1);
  assert.match(unused.stderr, /--block-size is not an option of sgd/);
  const data = await cli(['train', '--data', 'imagenet']);
  assert.notEqual(data.code, 0);
  assert.match(data.stderr, /Allowed choices are mnist, fashion-mnist, curves, cifar10, cifar100/);
  const optimizer = await cli(['compare', '--optimizers', 'sgd,lion', ...small]);
  assert.match(optimizer.stderr, /Unknown optimizer 'lion'; valid names are/);
  const lr = await cli(['compare', '--lr', 'fast']);
  assert.match(lr.stderr, /--lr must be a number, got 'fast'/);
  const cifar = await cli(['train', '--data', 'cifar10', '--model', 'vgg', ...small]);
  assert.match(cifar.stderr, /needs --data-dir/);
});
