/**
 * Data-parallel training on Open MPI, run through mpirun with 2 and 3 ranks on this machine:
 * every rank ends with bitwise identical weights that match a single-process run on the global
 * batch (SGD, Eva, K-FAC); collectives are correct from 1 element to several MB; a rank that
 * throws or hangs ends the whole job with a non-zero exit within seconds.
 *
 * Needs `mpirun` and the built addon (`npm run build:mpi`). Without them the tests are skipped,
 * unless EVA_REQUIRE_MPI=1 (CI), where that is a failure.
 */
import { fileURLToPath } from 'node:url';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadMpiAddon, allreduceMean, MPI_SETUP_HINT } from 'eva-tfjs/distributed';
import { shardOrder } from '../src/experiments/train-run.js';

/** A path inside this package (tests may run from any directory). */
const packagePath = (path: string): string => fileURLToPath(new URL(`../${path}`, import.meta.url));

const run = promisify(execFile);

function available(): string | false {
  try {
    execFileSync('mpirun', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'mpirun not found (apt-get install openmpi-bin libopenmpi-dev)';
  }
  if (!existsSync('packages/mpi/build/Release/eva_mpi.node')) {
    return 'the MPI addon is not built (npm run build:mpi)';
  }
  return false;
}

const missing = available();
if (missing && process.env.EVA_REQUIRE_MPI === '1') {
  throw new Error(`EVA_REQUIRE_MPI=1 but ${missing}`);
}
const skip = missing || false;

async function mpirun(ranks: number, script: string, args: string[], timeoutMs = 120_000) {
  const start = performance.now();
  try {
    const { stdout, stderr } = await run(
      'mpirun',
      [
        '--allow-run-as-root',
        '--oversubscribe',
        '--mca',
        'btl',
        'self,vader',
        '-np',
        String(ranks),
        process.execPath,
        '--conditions=eva-tfjs-source',
        '--import',
        'tsx',
        packagePath(script),
        ...args,
      ],
      { timeout: timeoutMs, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 2 ** 24 },
    );
    return { code: 0, stdout, stderr, seconds: (performance.now() - start) / 1000 };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string; killed?: boolean };
    return {
      code: err.killed ? -1 : (err.code ?? -1),
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
      seconds: (performance.now() - start) / 1000,
    };
  }
}

function lastJson(stdout: string): Record<string, unknown> {
  const line = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .at(-1);
  assert.ok(line, `no JSON result in output:\n${stdout}`);
  return JSON.parse(line) as Record<string, unknown>;
}

const cases: Array<[number, string, string?]> = [
  ...[2, 3].flatMap((ranks) => ['sgd', 'eva', 'kfac'].map((o): [number, string] => [ranks, o])),
  // A layer frozen for half the steps: per-parameter step counts in the state.
  [2, 'adam', 'unfreeze'],
  [2, 'kfac', 'unfreeze'],
];
for (const [ranks, optimizer, mode] of cases) {
  test(
    `${ranks} ranks, ${optimizer}${mode ? ` (${mode})` : ''}: bitwise identical weights and state that match one process on the global batch and resume exactly`,
    { skip },
    async () => {
      const result = await mpirun(ranks, 'test/mpi/equivalence.ts', [optimizer, mode ?? '']);
      assert.equal(result.code, 0, result.stderr);
      const r = lastJson(result.stdout);
      assert.equal(r.ranks, ranks);
      assert.equal(r.mismatches, 0, 'every rank holds the same bits');
      assert.equal(r.stateMismatches, 0, 'every rank holds the same optimizer state');
      assert.equal(r.hasScale, optimizer === 'eva' || optimizer === 'kfac', 'lastScale');
      assert.equal(r.scaleMismatches, 0, 'every rank applied the same KL clipping factor');
      assert.equal(r.resumeDiff, 0, 'the restored state continues the same trajectory');
      if (mode === 'unfreeze' && optimizer === 'adam') {
        assert.ok((r.stepEntries as number) > 0, 'the frozen layer saved its own step counts');
      }
      assert.ok((r.moved as number) > 1e-3, 'training moved the weights');
      assert.ok(
        (r.maxDiff as number) <= 1e-5 * Math.max(1, r.scale as number),
        `distributed vs single process: max |diff| ${r.maxDiff}`,
      );
    },
  );
}

test(
  'allreduce (sync, async, average) and broadcast from 1 element to 4 MB on 3 ranks',
  { skip },
  async () => {
    const result = await mpirun(3, 'test/mpi/collectives.ts', []);
    assert.equal(result.code, 0, result.stderr);
    const r = lastJson(result.stdout);
    assert.equal(r.failures, 0, JSON.stringify(r.details));
  },
);

test('a rank that throws mid-training ends the job non-zero within 30 s', { skip }, async () => {
  const result = await mpirun(2, 'test/mpi/failure.ts', ['throw'], 60_000);
  assert.notEqual(result.code, 0);
  assert.notEqual(result.code, -1, 'mpirun must exit by itself, not be killed by the test');
  assert.ok(result.seconds < 30, `took ${result.seconds} s`);
  assert.match(result.stderr, /rank 1 failed; aborting the job/);
});

test(
  'a rank stuck while the others wait in a collective is caught by the timeout',
  { skip },
  async () => {
    const result = await mpirun(2, 'test/mpi/failure.ts', ['hang'], 60_000);
    assert.equal(result.code, 124);
    assert.ok(result.seconds < 30, `took ${result.seconds} s`);
    assert.match(result.stderr, /waited more than 3\.0 s in a collective/);
  },
);

test(
  'CLI train --distributed on 2 ranks: one progress output, one log, one checkpoint',
  { skip },
  async () => {
    const out = mkdtempSync(join(tmpdir(), 'eva-dist-'));
    const result = await mpirun(2, 'src/cli/main.ts', [
      'train',
      '--distributed',
      '--data',
      'curves',
      '--train-limit',
      '64',
      '--test-limit',
      '16',
      '--batch-size',
      '16',
      '--epochs',
      '2',
      '--warmup-epochs',
      '0',
      '--backend',
      'cpu',
      '--out',
      out,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.match(/final train loss/g)?.length, 1, 'only rank 0 reports');
    assert.match(result.stdout, /data-parallel ranks 2 \(global batch 16\)/);
    const lines = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 2);
    assert.ok(existsSync(join(out, 'checkpoint', 'checkpoint.bin')));
  },
);

test(
  'mpirun -np 2 without --distributed is refused on every rank, nothing written',
  { skip },
  async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'eva-dist-')), 'out');
    const result = await mpirun(2, 'src/cli/main.ts', ['train', '--backend', 'cpu', '--out', out]);
    assert.notEqual(result.code, 0);
    assert.match(
      result.stderr,
      /started by mpirun as one of 2 processes without --distributed: .*add --distributed, or run without mpirun/,
    );
    assert.ok(!existsSync(out));
  },
);

test('without the addon, asking for distributed training says what to install, build and launch', () => {
  const hint =
    /Distributed training needs Open MPI and the @eva-tfjs\/mpi addon.*apt-get install openmpi-bin libopenmpi-dev.*npm run build:mpi.*mpirun -np 2/;
  // Not installed.
  assert.throws(() => loadMpiAddon('@eva-tfjs/no-such-addon'), hint);
  const dir = mkdtempSync(join(tmpdir(), 'eva-mpi-'));
  try {
    // Installed but not built: the addon's loader throws EVA_MPI_NOT_BUILT.
    const notBuilt = join(dir, 'not-built.cjs');
    writeFileSync(
      notBuilt,
      "const e = new Error('@eva-tfjs/mpi: the Open MPI addon is not built'); e.code = 'EVA_MPI_NOT_BUILT'; throw e;",
    );
    assert.throws(() => loadMpiAddon(notBuilt), hint);
    assert.deepEqual(MPI_SETUP_HINT.length > 0, true);
    // Any other failure (a broken library, a missing dependency of the addon) is not hidden.
    const broken = join(dir, 'broken.cjs');
    writeFileSync(broken, "require('some-missing-dependency-of-the-addon');");
    assert.throws(
      () => loadMpiAddon(broken),
      /Cannot find module 'some-missing-dependency-of-the-addon'/,
    );
    assert.throws(
      () => loadMpiAddon(broken),
      (e: Error) => !hint.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('shardOrder splits each global batch evenly; allreduceMean rescales by degree', () => {
  const permutation = Int32Array.from([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  assert.deepEqual(Array.from(shardOrder(permutation, 2, 4, 1, 2)), [7, 6, 3, 2]);
  assert.deepEqual(Array.from(shardOrder(permutation, 2, 4, 0, 1)), Array.from(permutation));
  const doubling = {
    rank: 0,
    size: 2,
    allreduceSum: (d: Float32Array) => d.forEach((v, i) => (d[i] = 2 * v)),
    broadcast: () => {},
    barrier: () => {},
    abort: (): never => {
      throw new Error('abort');
    },
    finalize: () => {},
  };
  const inputs = [tf.tensor1d([1, 2]), tf.tensor2d([[4]])];
  const [a, b] = allreduceMean(doubling, inputs, [0, 1]);
  assert.deepEqual(Array.from(a!.dataSync()), [1, 2]);
  assert.deepEqual(Array.from(b!.dataSync()), [2]);
  tf.dispose([...inputs, a!, b!]);
  // One rank: the tensors themselves (new handles), no collective.
  const single = { ...doubling, size: 1, allreduceSum: () => assert.fail('no collective') };
  const ones = [tf.tensor1d([1, 2]), tf.scalar(3)];
  const same = allreduceMean(single, ones, [0, 1]);
  assert.deepEqual(
    same.map((t) => Array.from(t.dataSync())),
    [[1, 2], [3]],
  );
  assert.ok(
    same.every((t, i) => t !== ones[i]),
    'fresh handles the caller may dispose',
  );
  tf.dispose([...ones, ...same]);
});
