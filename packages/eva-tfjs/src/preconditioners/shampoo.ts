/**
 * Shampoo (Gupta et al. 2018; the layout of Google's reference port): a parameter tensor is
 * reshaped by merging consecutive small dimensions (product up to `blockSize`, size-1 axes
 * dropped), every merged dimension larger than `blockSize` is cut into blocks, and each block of
 * order k keeps one statistic per axis, `L_i += mat_i(G) mat_i(G)^T`, whose inverse 2k-th root
 * preconditions that axis: `P = G x_1 L_1^(-1/2k) ... x_k L_k^(-1/2k)`.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Merges consecutive dimensions while their product stays <= `maxDim`; drops size-1 axes. */
export function mergeSmallDims(shape: readonly number[], maxDim: number): number[] {
  const merged: number[] = [];
  let product = 1;
  for (const d of shape) {
    if (product * d <= maxDim) {
      product *= d;
    } else {
      if (product > 1) merged.push(product);
      product = d;
    }
  }
  if (product > 1) merged.push(product);
  return merged;
}

/** One block of a partitioned tensor. */
export interface Block {
  readonly begin: number[];
  readonly size: number[];
}

/** How a parameter tensor is reshaped and cut into blocks. */
export interface BlockLayout {
  /** The merged shape (empty: nothing to precondition). */
  readonly merged: number[];
  /** Per merged axis, the sizes of its pieces. */
  readonly pieces: number[][];
  /** Every block, in row-major order of the piece grid. */
  readonly blocks: Block[];
}

/** The block layout of a tensor of `shape` for `blockSize`. */
export function blockLayout(shape: readonly number[], blockSize: number): BlockLayout {
  const merged = mergeSmallDims(shape, blockSize);
  const pieces = merged.map((d) => {
    const sizes: number[] = [];
    for (let start = 0; start < d; start += blockSize) sizes.push(Math.min(blockSize, d - start));
    return sizes;
  });
  let blocks: Block[] = merged.length === 0 ? [] : [{ begin: [], size: [] }];
  for (const sizes of pieces) {
    const next: Block[] = [];
    for (const block of blocks) {
      let start = 0;
      for (const size of sizes) {
        next.push({ begin: [...block.begin, start], size: [...block.size, size] });
        start += size;
      }
    }
    blocks = next;
  }
  return { merged, pieces, blocks };
}

/** The blocks of `g` (any shape with the layout's element count); call inside a tidy. */
export function splitBlocks(g: tf.Tensor, layout: BlockLayout): tf.Tensor[] {
  const reshaped = tf.reshape(g, layout.merged);
  if (layout.blocks.length === 1) return [reshaped];
  return layout.blocks.map((b) => tf.slice(reshaped, b.begin, b.size));
}

/** Reassembles blocks (in layout order) into a tensor of `shape`; call inside a tidy. */
export function joinBlocks(
  blocks: tf.Tensor[],
  layout: BlockLayout,
  shape: readonly number[],
): tf.Tensor {
  const join = (items: tf.Tensor[], axis: number): tf.Tensor => {
    if (axis === layout.pieces.length) return items[0]!;
    const count = layout.pieces[axis]!.length;
    const stride = items.length / count;
    const parts: tf.Tensor[] = [];
    for (let p = 0; p < count; p++) {
      parts.push(join(items.slice(p * stride, (p + 1) * stride), axis + 1));
    }
    return parts.length === 1 ? parts[0]! : tf.concat(parts, axis);
  };
  return tf.reshape(join(blocks, 0), [...shape]);
}

/**
 * Moves axis 0 of `t` to the end (`[d0, d1, ..., dk] -> [d1, ..., dk, d0]`). Applying a matrix
 * to axis 0 and rotating, k times, visits every axis and restores the original order.
 */
function rotate(t: tf.Tensor): tf.Tensor {
  const order = t.shape.map((_, i) => (i + 1) % t.rank);
  return tf.transpose(t, order);
}

/** `mat_i(B) mat_i(B)^T` for every axis i of block `b`; call inside a tidy. */
export function blockStatistics(b: tf.Tensor): tf.Tensor2D[] {
  const result: tf.Tensor2D[] = [];
  let t = b;
  for (let axis = 0; axis < b.rank; axis++) {
    const m = tf.reshape(t, [t.shape[0]!, -1]) as tf.Tensor2D;
    result.push(tf.matMul(m, m, false, true));
    t = rotate(t);
  }
  return result;
}

/** `B x_1 P_1 ... x_k P_k` for symmetric `P_i`; call inside a tidy. */
export function applyBlockPreconditioners(b: tf.Tensor, preconditioners: tf.Tensor2D[]): tf.Tensor {
  let t = b;
  for (const p of preconditioners) {
    const shape = t.shape;
    const m = tf.matMul(p, tf.reshape(t, [shape[0]!, -1]) as tf.Tensor2D);
    t = rotate(tf.reshape(m, shape));
  }
  return t;
}
