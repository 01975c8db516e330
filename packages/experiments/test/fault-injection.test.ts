/**
 * Fault injection on `eva-tfjs train` (subprocesses, tiny MLP on the cpu backend): runs killed
 * with SIGKILL at chosen and at random points (while a checkpoint or the log is being written,
 * between a checkpoint and its log row, anywhere) and resumed until they complete end with the
 * same log as an uninterrupted run; a damaged checkpoint is refused naming the file; a second
 * run on a directory in use is refused; Ctrl-C (SIGINT) exits 130, gives the terminal's cursor
 * back and leaves a checkpoint that resumes.
 *
 * Chosen points use failpoints (EVA_TFJS_FAILPOINT, see src/experiments/failpoint.ts); random
 * ones are drawn from a seed (EVA_FAULT_SEED to replay one; it is printed as a diagnostic).
 */
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../src/data/random.js';
import { checkpointFile, hasCheckpoint, loadCheckpoint } from '../src/experiments/checkpoint.js';

const packagePath = (path: string): string => fileURLToPath(new URL(`../${path}`, import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'eva-fault-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** The run every test interrupts: 4 epochs of 4 steps. */
const RUN = [
  'train',
  '--model',
  'mlp',
  '--data',
  'mnist',
  '--train-limit',
  '200',
  '--test-limit',
  '50',
  '--batch-size',
  '50',
  '--epochs',
  '4',
  '--warmup-epochs',
  '0',
  '--backend',
  'cpu',
  '--optimizer',
  'eva',
];
const NODE = [process.execPath, '--conditions=eva-tfjs-source', '--import', 'tsx'];
const MAIN = packagePath('src/cli/main.ts');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** A running CLI process. */
interface Running {
  pid: number;
  exited: Promise<Exit>;
  /** Whether it has exited. */
  done(): boolean;
}

/** Starts `train` on `out` (with `--resume` when asked), its environment extended by `env`. */
function start(out: string, options: { resume?: boolean; env?: Record<string, string> } = {}) {
  const args = [...RUN, '--out', out, ...(options.resume ? ['--resume'] : [])];
  return launch(NODE[0]!, [...NODE.slice(1), MAIN, ...args], options.env);
}

function launch(command: string, args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(command, args, { env: { ...process.env, ...env } });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let finished = false;
  const exited = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => {
      finished = true;
      resolve({ code, signal, output });
    }),
  );
  return { pid: child.pid!, exited, done: () => finished };
}

/** The fields of epoch records that must survive any interruption (wall and CPU time apart). */
type Row = Record<string, unknown>;
const comparable = (records: Row[]): Row[] =>
  records.map(({ seconds: _seconds, cpuSeconds, ...rest }) => {
    void _seconds;
    assert.equal(typeof cpuSeconds, 'number', 'every record of a resumed run has its CPU time');
    return rest;
  });

function logRows(out: string): Row[] {
  const path = join(out, 'log.jsonl');
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), `a whole log: ${JSON.stringify(text)}`);
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Row);
}

/** The epoch records of the checkpoint in `out` (it must load: checksum and all). */
function checkpointRows(out: string): Row[] {
  const dir = join(out, 'checkpoint');
  if (!hasCheckpoint(dir)) return [];
  const checkpoint = loadCheckpoint(dir);
  tf.dispose([...checkpoint.modelWeights, ...checkpoint.optimizerWeights.map((w) => w.tensor)]);
  return (checkpoint.meta.epochs as Row[]).map((r) => ({ run: 'eva', ...r }));
}

/**
 * What a kill may leave: a checkpoint of the first k epochs of the reference, and a log of
 * the same k rows, or k - 1 when the kill came between the checkpoint and its log row.
 */
function assertConsistent(out: string, reference: Row[], where: string): number {
  const saved = comparable(checkpointRows(out));
  const log = comparable(logRows(out));
  assert.deepEqual(saved, comparable(reference).slice(0, saved.length), `checkpoint, ${where}`);
  assert.ok(
    log.length === saved.length || log.length === saved.length - 1,
    `${where}: ${log.length} log rows for a checkpoint of ${saved.length} epochs`,
  );
  assert.deepEqual(log, saved.slice(0, log.length), `log, ${where}`);
  return saved.length;
}

/** Resumes (or starts, without a checkpoint) until the run completes; returns its last output. */
async function complete(out: string): Promise<string> {
  const last = await start(out, { resume: hasCheckpoint(join(out, 'checkpoint')) }).exited;
  assert.equal(last.code, 0, last.output);
  return last.output;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `condition` holds (polling every `ms`), or `run` exits. */
async function until(run: Running, condition: () => boolean, ms = 20): Promise<boolean> {
  while (!run.done()) {
    if (condition()) return true;
    await sleep(ms);
  }
  return false;
}

const temporaries = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir).filter((f) => /\.tmp-\d+$/.test(f)) : [];

let referenceRun: Promise<Row[]> | null = null;

/** The log of the uninterrupted run (run once, shared). */
function reference(): Promise<Row[]> {
  referenceRun ??= (async () => {
    const out = join(root, 'reference');
    const run = await start(out).exited;
    assert.equal(run.code, 0, run.output);
    const rows = logRows(out);
    assert.equal(rows.length, 4);
    assert.deepEqual(comparable(rows), comparable(checkpointRows(out)));
    return rows;
  })();
  return referenceRun;
}

describe('fault injection', { concurrency: 2 }, () => {
  test('killed while writing a checkpoint, between it and its log row, while writing the log', async () => {
    const expected = await reference();
    const out = join(root, 'failpoints');
    const checkpoints = join(out, 'checkpoint');
    const kill = (point: string) => ({ EVA_TFJS_FAILPOINT: point });

    // The second checkpoint's temporary is complete but not yet renamed into place.
    const first = await start(out, { env: kill('checkpoint.bin-written@2') }).exited;
    assert.equal(first.signal, 'SIGKILL', first.output);
    assert.equal(assertConsistent(out, expected, 'killed writing checkpoint 2'), 1);
    assert.equal(temporaries(checkpoints).length, 1, 'the half-published temporary');
    assert.ok(existsSync(join(out, '.lock')), 'a stale lock');

    // Checkpoint 3 published, its log row not yet written: the log lags by one row.
    const second = await start(out, { resume: true, env: kill('checkpoint-published@2') }).exited;
    assert.equal(second.signal, 'SIGKILL', second.output);
    assert.match(second.output, /took over a stale lock in .* \(pid \d+ is no longer running\)/);
    assert.match(
      second.output,
      /Removed 1 temporary file\(s\) of an interrupted write: checkpoint\.bin\.tmp-\d+/,
    );
    assert.equal(assertConsistent(out, expected, 'killed after checkpoint 3'), 3);
    assert.equal(logRows(out).length, 2);

    // The resume rewrites the log from the checkpoint first (write 1); killed writing the log
    // of checkpoint 4 (write 2): the log is the 3 rows of the resume, whole.
    const third = await start(out, { resume: true, env: kill('log.jsonl-written@2') }).exited;
    assert.equal(third.signal, 'SIGKILL', third.output);
    assert.equal(assertConsistent(out, expected, 'killed writing the log'), 4);
    assert.deepEqual(comparable(logRows(out)), comparable(expected).slice(0, 3));
    assert.equal(temporaries(out).length, 1, 'the log temporary');

    const output = await complete(out);
    assert.match(output, /eva: finished earlier: taken from its checkpoint/);
    assert.deepEqual(comparable(logRows(out)), comparable(expected));
    assert.deepEqual(temporaries(out), []);
    assert.deepEqual(temporaries(checkpoints), []);
    assert.ok(!existsSync(join(out, '.lock')));
  });

  test('killed at random points, resumed until complete: the same log', async (t: TestContext) => {
    const expected = await reference();
    const seed = Number(process.env.EVA_FAULT_SEED ?? Date.now() % 100_000);
    t.diagnostic(`EVA_FAULT_SEED=${seed}`);
    const random = seededRandom(seed);
    const out = join(root, 'random');
    const checkpoints = join(out, 'checkpoint');
    let kills = 0;
    for (let attempt = 0; kills < 3 && attempt < 8; attempt++) {
      const run = start(out, { resume: hasCheckpoint(checkpoints) });
      const mode = attempt === 0 ? 'temporary' : random() < 0.4 ? 'checkpoint' : 'time';
      const previous = existsSync(checkpointFile(checkpoints))
        ? statSync(checkpointFile(checkpoints)).mtimeMs
        : 0;
      let hit: boolean;
      if (mode === 'temporary') {
        // As soon as a checkpoint's temporary appears: mid-write.
        hit = await until(run, () => temporaries(checkpoints).length > 0, 1);
      } else if (mode === 'checkpoint') {
        // As soon as a new checkpoint is published.
        hit = await until(
          run,
          () =>
            existsSync(checkpointFile(checkpoints)) &&
            statSync(checkpointFile(checkpoints)).mtimeMs !== previous,
          1,
        );
      } else {
        // Anywhere: start-up, data loading, training, evaluation, writing.
        await sleep(2000 + random() * 9000);
        hit = !run.done();
      }
      if (hit) process.kill(run.pid, 'SIGKILL');
      const exit = await run.exited;
      const left = temporaries(checkpoints).length + temporaries(out).length;
      t.diagnostic(
        `attempt ${attempt}: ${mode}, ${exit.signal ?? `exit ${exit.code}`}` +
          (left > 0 ? `, ${left} temporary left` : ''),
      );
      if (exit.code === 0) {
        // Completed before the kill: check it, then start over for more kills.
        assert.deepEqual(comparable(logRows(out)), comparable(expected));
        rmSync(out, { recursive: true, force: true });
        continue;
      }
      assert.equal(exit.signal, 'SIGKILL', exit.output);
      kills += 1;
      assertConsistent(out, expected, `after kill ${kills} (${mode})`);
    }
    assert.ok(kills > 0, 'at least one kill landed');
    await complete(out);
    assert.deepEqual(comparable(logRows(out)), comparable(expected));
  });

  test('a damaged checkpoint is refused on --resume, naming the file', async () => {
    await reference();
    const out = join(root, 'damaged');
    cpSync(join(root, 'reference'), out, { recursive: true });
    const path = checkpointFile(join(out, 'checkpoint'));
    const bytes = readFileSync(path);
    bytes[bytes.length - 1000]! ^= 0x10;
    writeFileSync(path, bytes);
    const run = await start(out, { resume: true }).exited;
    assert.equal(run.code, 1, run.output);
    assert.match(
      run.output,
      /eva-tfjs: eva: .*checkpoint[/\\]checkpoint\.bin: the header and data do not match their SHA-256 checksum; the checkpoint is damaged \(not resumed\)/,
    );
    assert.ok(readFileSync(path).equals(bytes), 'left as it was');
  });

  test('Ctrl-C (SIGINT): exit 130, the cursor back, the lock released, the checkpoint resumes', async () => {
    const expected = await reference();
    const out = join(root, 'interrupted');
    // Through a pseudo-terminal when `script` is there: the progress bar then hides the cursor.
    const tty = spawnSync('script', ['--version']).status === 0;
    const command = [...NODE, MAIN, ...RUN, '--out', out].join(' ');
    const run = tty ? launch('script', ['-qec', command, '/dev/null']) : start(out);
    assert.ok(await until(run, () => hasCheckpoint(join(out, 'checkpoint'))), 'a checkpoint');
    const pid = (JSON.parse(readFileSync(join(out, '.lock'), 'utf8')) as { pid: number }).pid;
    process.kill(pid, 'SIGINT');
    const interrupted = await run.exited;
    assert.equal(interrupted.code, 130, interrupted.output);
    assert.match(
      interrupted.output,
      /interrupted \(SIGINT\); the checkpoint of epoch \d \(.*checkpoint\.bin\) is intact: continue with --resume/,
    );
    if (tty) {
      const hidden = interrupted.output.lastIndexOf('\x1b[?25l');
      assert.ok(hidden >= 0, 'the progress bar hid the cursor');
      assert.ok(interrupted.output.indexOf('\x1b[?25h', hidden) > hidden, 'and gave it back');
    }
    assert.ok(!existsSync(join(out, '.lock')), 'the lock is released');
    const done = assertConsistent(out, expected, 'after SIGINT');
    assert.ok(done >= 1 && done < 4, `interrupted after epoch ${done}`);
    const output = await complete(out);
    assert.match(output, new RegExp(`resumed after epoch ${done}`));
    assert.deepEqual(comparable(logRows(out)), comparable(expected));
  });

  test('compare: killed in its second run, --resume takes the first from its checkpoint', async () => {
    const compareArgs = (out: string, resume: boolean) => [
      ...NODE.slice(1),
      MAIN,
      'compare',
      ...RUN.slice(1, RUN.indexOf('--optimizer')),
      '--epochs',
      '2',
      '--optimizers',
      'sgd,eva',
      '--out',
      out,
      ...(resume ? ['--resume'] : []),
    ];
    const runsOf = (out: string) =>
      (
        JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
          runs: { label: string; result: { epochs: Row[] } }[];
        }
      ).runs.map((r) => ({ label: r.label, epochs: comparable(r.result.epochs) }));
    const whole = join(root, 'compare-whole');
    const uninterrupted = await launch(NODE[0]!, compareArgs(whole, false)).exited;
    assert.equal(uninterrupted.code, 0, uninterrupted.output);

    const out = join(root, 'compare-killed');
    const nothing = await launch(NODE[0]!, compareArgs(out, true)).exited;
    assert.equal(nothing.code, 1, nothing.output);
    assert.match(nothing.output, /--resume: nothing to resume from: no run of .* has a checkpoint/);
    // sgd's 2 checkpoints, then eva's first: killed once it is published.
    const killed = await launch(NODE[0]!, compareArgs(out, false), {
      EVA_TFJS_FAILPOINT: 'checkpoint-published@3',
    }).exited;
    assert.equal(killed.signal, 'SIGKILL', killed.output);
    assert.ok(!existsSync(join(out, 'results.json')), 'no report yet');
    assert.equal(logRows(join(out, 'runs', 'sgd')).length, 2);
    const resumed = await launch(NODE[0]!, compareArgs(out, true)).exited;
    assert.equal(resumed.code, 0, resumed.output);
    assert.match(resumed.output, /sgd: finished earlier: taken from its checkpoint/);
    assert.match(resumed.output, /eva: resumed after epoch 1/);
    assert.doesNotMatch(resumed.output, /sgd +epoch 1\/2 \[/, 'sgd does not train again');
    assert.deepEqual(runsOf(out), runsOf(whole));
    assert.deepEqual(
      comparable(logRows(join(out, 'runs', 'eva'))),
      comparable(logRows(join(whole, 'runs', 'eva'))),
    );
  });

  test('a second run on a directory in use is refused; SIGTERM exits 143', async () => {
    const out = join(root, 'in-use');
    const lock = join(out, '.lock');
    const first = start(out);
    assert.ok(await until(first, () => existsSync(lock)), 'the first run holds the directory');
    // Held still (holding the lock) while the second one tries.
    process.kill(first.pid, 'SIGSTOP');
    try {
      const second = await start(out).exited;
      assert.equal(second.code, 1, second.output);
      assert.match(
        second.output,
        new RegExp(`eva-tfjs: .*in-use is in use by another run \\(pid ${first.pid} on `),
      );
      assert.doesNotMatch(second.output, /eva epoch/, 'refused before training');
      process.kill(first.pid, 'SIGTERM');
    } finally {
      process.kill(first.pid, 'SIGCONT');
    }
    const terminated = await first.exited;
    assert.equal(terminated.code, 143, terminated.output);
    assert.match(terminated.output, /interrupted \(SIGTERM\)/);
    assert.ok(!existsSync(lock), 'the lock is released');
  });
});
