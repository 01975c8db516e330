/**
 * Checkpoints of a training run in a directory: `checkpoint.json` (the run's settings, its
 * epoch records and a manifest of the tensors) and `checkpoint.bin` (the model's weights,
 * BatchNorm statistics included, and the optimizer's state, as raw little-endian values).
 * Written to temporary files and renamed, so an interrupted save leaves the previous checkpoint.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NamedTensor } from 'eva-tfjs';

/** What a checkpoint stores besides tensors (JSON-serialisable). */
export type CheckpointMeta = Record<string, unknown>;

interface ManifestEntry {
  group: 'model' | 'optimizer';
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  offset: number;
  length: number;
}

/** A loaded checkpoint; the caller owns (and must dispose) the tensors. */
export interface Checkpoint {
  meta: CheckpointMeta;
  modelWeights: tf.Tensor[];
  optimizerWeights: NamedTensor[];
}

const VERSION = 1;

/** Writes a checkpoint of `modelWeights` and `optimizerWeights` with `meta` to `dir`. */
export async function saveCheckpoint(
  dir: string,
  meta: CheckpointMeta,
  modelWeights: tf.Tensor[],
  optimizerWeights: NamedTensor[],
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const entries: ManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const add = async (group: ManifestEntry['group'], name: string, tensor: tf.Tensor) => {
    if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') {
      throw new Error(
        `saveCheckpoint: ${group} tensor '${name}' has unsupported dtype ${tensor.dtype}`,
      );
    }
    const data = await tensor.data();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    entries.push({
      group,
      name,
      shape: tensor.shape,
      dtype: tensor.dtype,
      offset,
      length: bytes.length,
    });
    chunks.push(bytes);
    offset += bytes.length;
  };
  for (const [i, w] of modelWeights.entries()) await add('model', String(i), w);
  for (const w of optimizerWeights) await add('optimizer', w.name, w.tensor);
  const binary = new Uint8Array(offset);
  let position = 0;
  for (const c of chunks) {
    binary.set(c, position);
    position += c.length;
  }
  const json = JSON.stringify({ version: VERSION, meta, tensors: entries }, null, 1);
  writeFileSync(join(dir, 'checkpoint.bin.tmp'), binary);
  writeFileSync(join(dir, 'checkpoint.json.tmp'), json);
  renameSync(join(dir, 'checkpoint.bin.tmp'), join(dir, 'checkpoint.bin'));
  renameSync(join(dir, 'checkpoint.json.tmp'), join(dir, 'checkpoint.json'));
}

/** Whether `dir` holds a checkpoint. */
export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, 'checkpoint.json')) && existsSync(join(dir, 'checkpoint.bin'));
}

/** Reads the checkpoint in `dir`; malformed files are clear errors naming the file. */
export function loadCheckpoint(dir: string): Checkpoint {
  const jsonPath = join(dir, 'checkpoint.json');
  const binPath = join(dir, 'checkpoint.bin');
  if (!hasCheckpoint(dir))
    throw new Error(`No checkpoint in ${dir} (expected checkpoint.json and checkpoint.bin)`);
  let parsed: { version?: unknown; meta?: CheckpointMeta; tensors?: ManifestEntry[] };
  try {
    parsed = JSON.parse(readFileSync(jsonPath, 'utf8')) as typeof parsed;
  } catch (e) {
    throw new Error(`${jsonPath}: not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (parsed.version !== VERSION || !Array.isArray(parsed.tensors) || parsed.meta == null) {
    throw new Error(`${jsonPath}: not an eva-tfjs checkpoint of version ${VERSION}`);
  }
  const binary = readFileSync(binPath);
  const modelWeights: tf.Tensor[] = [];
  const optimizerWeights: NamedTensor[] = [];
  for (const e of parsed.tensors) {
    if (e.offset + e.length > binary.length) {
      throw new Error(
        `${binPath}: truncated (tensor '${e.name}' ends at ${e.offset + e.length}, file has ${binary.length} bytes)`,
      );
    }
    // A fresh, aligned copy (Buffer.slice would share the file buffer).
    const bytes = new Uint8Array(e.length);
    bytes.set(binary.subarray(e.offset, e.offset + e.length));
    const values =
      e.dtype === 'int32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer);
    const tensor = tf.tensor(values, e.shape, e.dtype);
    if (e.group === 'model') modelWeights.push(tensor);
    else optimizerWeights.push({ name: e.name, tensor });
  }
  return { meta: parsed.meta, modelWeights, optimizerWeights };
}
