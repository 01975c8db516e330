/**
 * Checkpoints as one atomic, verified file, and one writer per output directory.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkpointFile,
  hasCheckpoint,
  loadCheckpoint,
  removeStaleTemporaries,
  saveCheckpoint,
  writeFileAtomic,
} from '../src/experiments/checkpoint.js';
import { lockOutputDirectory } from '../src/experiments/output-lock.js';

before(async () => {
  await tf.setBackend('cpu');
});

function temp(): string {
  return mkdtempSync(join(tmpdir(), 'eva-ckpt-'));
}

async function writeOne(dir: string) {
  const model = [tf.tensor([1, 2, 3]), tf.tensor([[4, 5]])];
  const optimizer = [
    { name: 'iter', tensor: tf.scalar(7, 'int32') },
    { name: 'eva/0/a', tensor: tf.tensor([0.5, -0.25]) },
  ];
  await saveCheckpoint(dir, { epochs: [{ epoch: 1 }], settings: { lr: 0.1 } }, model, optimizer);
  tf.dispose([...model, ...optimizer.map((o) => o.tensor)]);
}

test('a checkpoint round-trips in one file and leaves no temporaries', async () => {
  const dir = temp();
  try {
    await writeOne(dir);
    assert.deepEqual(readdirSync(dir), ['checkpoint.bin']);
    assert.ok(hasCheckpoint(dir));
    const loaded = loadCheckpoint(dir);
    assert.deepEqual(loaded.meta, { epochs: [{ epoch: 1 }], settings: { lr: 0.1 } });
    assert.deepEqual(
      loaded.modelWeights.map((t) => t.arraySync()),
      [[1, 2, 3], [[4, 5]]],
    );
    assert.deepEqual(
      loaded.optimizerWeights.map((w) => [w.name, w.tensor.dtype, w.tensor.arraySync()]),
      [
        ['iter', 'int32', 7],
        ['eva/0/a', 'float32', [0.5, -0.25]],
      ],
    );
    tf.dispose([...loaded.modelWeights, ...loaded.optimizerWeights.map((w) => w.tensor)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('damaged checkpoints are rejected naming the file', async () => {
  const dir = temp();
  try {
    await writeOne(dir);
    const path = checkpointFile(dir);
    const good = readFileSync(path);
    const damage: Array<[string, (b: Buffer) => Buffer, RegExp]> = [
      [
        'a flipped data byte',
        (b) => {
          const c = Buffer.from(b);
          c.writeUInt8(c.readUInt8(c.length - 3) ^ 0x40, c.length - 3);
          return c;
        },
        /SHA-256/,
      ],
      [
        'NaN written over a value',
        (b) => {
          const c = Buffer.from(b);
          c.writeFloatLE(NaN, c.length - 4);
          return c;
        },
        /SHA-256/,
      ],
      [
        'appended bytes',
        (b) => Buffer.concat([b, Buffer.from([1, 2, 3, 4])]),
        /data bytes where the header says/,
      ],
      ['a truncated file', (b) => b.subarray(0, b.length - 5), /data bytes where the header says/],
      ['another file', () => Buffer.from('hello\n'), /not an eva-tfjs checkpoint/],
      [
        'an entry dropped from the header',
        (b) =>
          Buffer.from(
            b
              .toString('latin1')
              .replace('"name":"optimizer/eva/0/a"', '"name":"optimizer/eva/0/b"'),
            'latin1',
          ),
        /SHA-256|entry|decode|header/,
      ],
    ];
    for (const [what, change, message] of damage) {
      writeFileSync(path, change(good));
      assert.throws(
        () => loadCheckpoint(dir),
        (e: Error) => message.test(e.message) && e.message.startsWith(path),
        what,
      );
    }
    rmSync(path);
    writeFileSync(join(dir, 'checkpoint.json'), '{}');
    assert.throws(() => loadCheckpoint(dir), /older eva-tfjs \(format 1\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('atomic writes: failures name the file and leave no temporary; stale ones are removed', () => {
  const dir = temp();
  try {
    writeFileAtomic(join(dir, 'log.jsonl'), 'one\n');
    assert.equal(readFileSync(join(dir, 'log.jsonl'), 'utf8'), 'one\n');
    assert.throws(
      () => writeFileAtomic(join(dir, 'missing-dir', 'x'), 'data'),
      (e: Error) => e.message.startsWith(`Could not write ${join(dir, 'missing-dir', 'x')}`),
    );
    writeFileSync(join(dir, 'checkpoint.bin.tmp-12345'), 'partial');
    assert.deepEqual(removeStaleTemporaries(dir), ['checkpoint.bin.tmp-12345']);
    assert.ok(!existsSync(join(dir, 'checkpoint.bin.tmp-12345')));
    appendFileSync(join(dir, 'log.jsonl'), 'two\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one writer per output directory; a stale lock of a dead process is taken over', () => {
  const dir = temp();
  try {
    const lock = lockOutputDirectory(dir);
    assert.equal(lock.takenOver, null);
    assert.throws(
      () => lockOutputDirectory(dir),
      new RegExp(`in use by another run \\(pid ${process.pid}`),
    );
    lock.release();
    assert.ok(!existsSync(lock.path));
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], {
      encoding: 'utf8',
    });
    const pid = Number(dead.stdout.trim());
    writeFileSync(join(dir, '.lock'), JSON.stringify({ pid, host: undefined, started: 'then' }));
    const again = lockOutputDirectory(dir);
    assert.match(again.takenOver ?? '', new RegExp(`pid ${pid} is no longer running`));
    again.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
