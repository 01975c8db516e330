/**
 * What {@link InverseRootWorker} and its thread share: the status word's values and the data the
 * thread starts with. Status word 0 is the request state; word 1 is set to 1 once the thread
 * has started.
 */
import type { MessagePort } from 'node:worker_threads';

/** Values of the shared status word 0. */
export const RootStatus = {
  /** Nothing asked yet. */
  Idle: 0,
  /** The input holds a request; the thread is (or will be) computing. */
  Requested: 1,
  /** The output holds the roots of the last request. */
  Done: 2,
  /** The last request failed; the thread posted the message on its port. */
  Failed: 3,
  /** The thread is to exit. */
  Stop: 4,
} as const;

/** The thread's `workerData`: shared buffers and the fixed job layout. */
export interface RootThreadData {
  /** Word 0: {@link RootStatus}; word 1: 1 once the thread runs. */
  readonly status: Int32Array;
  /** The ridge epsilon of the current request (one float64). */
  readonly ridge: Float64Array;
  /** The matrices, row-major, one after another. */
  readonly input: Float32Array;
  /** Their inverse roots, laid out as the input. */
  readonly output: Float32Array;
  /** The order of each matrix. */
  readonly sizes: readonly number[];
  /** The root p of each matrix. */
  readonly exponents: readonly number[];
  /** Where the thread posts a failed request's message. */
  readonly port: MessagePort;
}
