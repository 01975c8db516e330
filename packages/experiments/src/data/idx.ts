/**
 * Reader for the IDX files MNIST and Fashion-MNIST are distributed in (gzipped or not): a
 * 4-byte magic `0x00 0x00 <type> <rank>`, `rank` big-endian uint32 dimensions, then the values.
 * Only unsigned bytes (type 0x08) occur in these datasets and only they are accepted. No npm
 * package for IDX is maintained, and gunzip is Node's own zlib.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** The content of an IDX file. */
export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

/** Parses IDX bytes (already gunzipped); `source` names the file in errors. */
export function parseIdx(bytes: Uint8Array, source: string): IdxArray {
  if (bytes.length < 4)
    throw new Error(`${source}: too short for an IDX header (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${source}: not an IDX file (magic must start with two zero bytes)`);
  }
  if (bytes[2] !== 0x08) {
    throw new Error(
      `${source}: IDX value type 0x${bytes[2]!.toString(16)} is not supported (expected 0x08, unsigned bytes)`,
    );
  }
  const rank = bytes[3]!;
  const headerSize = 4 + 4 * rank;
  if (rank === 0 || bytes.length < headerSize) {
    throw new Error(`${source}: IDX header of rank ${rank} is truncated`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = shape.reduce((a, b) => a * b, 1);
  if (bytes.length - headerSize !== size) {
    throw new Error(
      `${source}: IDX shape [${shape}] needs ${size} value bytes, the file has ${bytes.length - headerSize}`,
    );
  }
  return { shape, data: bytes.subarray(headerSize) };
}

/** Reads an IDX file, gunzipping it when it starts with the gzip magic. */
export function readIdx(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`Cannot read IDX file ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new Error(`${path}: corrupt gzip data: ${(e as Error).message}`, { cause: e });
    }
  }
  return parseIdx(bytes, path);
}
