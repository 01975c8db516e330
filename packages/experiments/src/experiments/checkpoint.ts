/**
 * Checkpoints of a training run: ONE file, `checkpoint.bin` in the checkpoint directory, holding
 * a header (the run's settings, its epoch records, tfjs weight specs of the model's weights and
 * the optimizer's state, the SHA-256 and length of the data) and the data in tfjs's own weight
 * encoding (`tf.io.encodeWeights`). It is written completely under a temporary name, fsynced,
 * and published by one rename (then the directory is fsynced), so a kill at any moment leaves
 * either the previous checkpoint or the new one, never a mix. Loading verifies the magic, the
 * header, the length and the checksum: any mismatch is an error naming the file.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { NamedTensor } from 'eva-tfjs';
import { failpoint } from './failpoint.js';

/** What a checkpoint stores besides tensors (JSON-serialisable). */
export type CheckpointMeta = Record<string, unknown>;

/** A loaded checkpoint; the caller owns (and must dispose) the tensors. */
export interface Checkpoint {
  meta: CheckpointMeta;
  modelWeights: tf.Tensor[];
  optimizerWeights: NamedTensor[];
}

const FILE = 'checkpoint.bin';
const MAGIC = 'EVA-TFJS-CHECKPOINT\n';
const VERSION = 2;

interface Header {
  version: number;
  meta: CheckpointMeta;
  specs: tf.io.WeightsManifestEntry[];
  byteLength: number;
  /** Over the header's other fields (as JSON) and the data. */
  sha256: string;
}

/** The checksum of a header's contents and the data. */
function checksum(header: Omit<Header, 'sha256'>, data: Uint8Array): string {
  const { version, meta, specs, byteLength } = header;
  return createHash('sha256')
    .update(JSON.stringify({ version, meta, specs, byteLength }))
    .update(data)
    .digest('hex');
}

/** The checkpoint file in `dir`. */
export function checkpointFile(dir: string): string {
  return join(dir, FILE);
}

/**
 * Writes `data` to `path` atomically: a temporary file beside it, fsynced, renamed over `path`,
 * and the directory fsynced. A failure (e.g. a full disk) removes the temporary and names the
 * file.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(temporary, 'w');
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    failpoint(`${basename(path)}-written`);
    renameSync(temporary, path);
  } catch (e) {
    rmSync(temporary, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      `Could not write ${path}${code ? ` (${code})` : ''}: ${(e as Error).message}` +
        (code === 'ENOSPC' ? '; the disk is full' : ''),
      { cause: e },
    );
  }
  syncDirectory(dirname(path));
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems refuse to fsync a directory; the rename is still atomic.
  }
}

/** Removes temporaries left by interrupted writes in `dir` (call while holding its lock). */
export function removeStaleTemporaries(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const stale = readdirSync(dir).filter((f) => /\.tmp-\d+$/.test(f));
  for (const f of stale) rmSync(join(dir, f), { force: true });
  return stale;
}

/** Writes a checkpoint of `modelWeights` and `optimizerWeights` with `meta` to `dir`. */
export async function saveCheckpoint(
  dir: string,
  meta: CheckpointMeta,
  modelWeights: tf.Tensor[],
  optimizerWeights: NamedTensor[],
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const named = [
    ...modelWeights.map((tensor, i) => ({ name: `model/${i}`, tensor })),
    ...optimizerWeights.map(({ name, tensor }) => ({ name: `optimizer/${name}`, tensor })),
  ];
  for (const { name, tensor } of named) {
    if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') {
      throw new Error(`saveCheckpoint: tensor '${name}' has unsupported dtype ${tensor.dtype}`);
    }
  }
  const { data, specs } = await tf.io.encodeWeights(named);
  const bytes = new Uint8Array(data as ArrayBuffer);
  const contents = { version: VERSION, meta, specs, byteLength: bytes.length };
  const header: Header = { ...contents, sha256: checksum(contents, bytes) };
  const head = Buffer.from(`${MAGIC}${JSON.stringify(header)}\n`);
  const file = new Uint8Array(head.length + bytes.length);
  file.set(head, 0);
  file.set(bytes, head.length);
  writeFileAtomic(checkpointFile(dir), file);
}

/** Whether `dir` holds a checkpoint. */
export function hasCheckpoint(dir: string): boolean {
  return existsSync(checkpointFile(dir));
}

/** Reads and verifies the checkpoint in `dir`; anything wrong is an error naming the file. */
export function loadCheckpoint(dir: string): Checkpoint {
  const path = checkpointFile(dir);
  if (!existsSync(path)) {
    const old = existsSync(join(dir, 'checkpoint.json'));
    throw new Error(
      old
        ? `${join(dir, 'checkpoint.json')}: a checkpoint of an older eva-tfjs (format 1); ` +
            'it cannot be resumed by this version: start the run again in a new directory'
        : `No checkpoint in ${dir} (expected ${FILE})`,
    );
  }
  const file = readFileSync(path);
  const bad = (why: string): never => {
    throw new Error(`${path}: ${why}; the checkpoint is damaged (not resumed)`);
  };
  if (file.subarray(0, MAGIC.length).toString() !== MAGIC) bad('not an eva-tfjs checkpoint');
  const end = file.indexOf(0x0a, MAGIC.length);
  if (end < 0) bad('the header is cut off');
  let header: Header;
  try {
    header = JSON.parse(file.subarray(MAGIC.length, end).toString()) as Header;
  } catch (e) {
    return bad(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (header.version !== VERSION || header.meta == null || !Array.isArray(header.specs)) {
    bad(`not a checkpoint of format ${VERSION}`);
  }
  const data = file.subarray(end + 1);
  if (data.length !== header.byteLength) {
    bad(`${data.length} data bytes where the header says ${header.byteLength}`);
  }
  if (checksum(header, data) !== header.sha256) {
    bad('the header and data do not match their SHA-256 checksum');
  }
  const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  let decoded: tf.NamedTensorMap;
  try {
    decoded = tf.io.decodeWeights(buffer, header.specs);
  } catch (e) {
    return bad(`the data does not decode (${(e as Error).message})`);
  }
  const modelWeights: tf.Tensor[] = [];
  const optimizerWeights: NamedTensor[] = [];
  for (const spec of header.specs) {
    const tensor = decoded[spec.name]!;
    if (spec.name.startsWith('model/')) modelWeights.push(tensor);
    else if (spec.name.startsWith('optimizer/')) {
      optimizerWeights.push({ name: spec.name.slice('optimizer/'.length), tensor });
    } else {
      tf.dispose(Object.values(decoded));
      bad(`unexpected entry '${spec.name}'`);
    }
  }
  return { meta: header.meta, modelWeights, optimizerWeights };
}
