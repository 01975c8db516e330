/**
 * Moving square matrices between tf tensors (float32) and float64 `ml-matrix` matrices for the
 * host-side factorisations. Reading a tensor back is a host sync: the callers do it only at
 * their inverse/root interval, never on every step of Eva.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Matrix } from 'ml-matrix';

/** Reads a square `[n, n]` tensor into a float64 matrix, symmetrising it (`(M + M^T) / 2`). */
export function symmetricFromTensor(tensor: tf.Tensor2D): Matrix {
  const [n, m] = tensor.shape;
  if (n !== m) throw new Error(`Expected a square matrix, got shape [${tensor.shape}]`);
  const values = tensor.dataSync();
  const result = new Matrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = (values[i * n + j]! + values[j * n + i]!) / 2;
      result.set(i, j, v);
      result.set(j, i, v);
    }
  }
  return result;
}

/** A float32 tensor of a float64 matrix. */
export function tensorFromMatrix(matrix: Matrix): tf.Tensor2D {
  const rows = matrix.rows;
  const cols = matrix.columns;
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const row = matrix.getRow(i);
    for (let j = 0; j < cols; j++) values[i * cols + j] = row[j]!;
  }
  return tf.tensor2d(values, [rows, cols]);
}
