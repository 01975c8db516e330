/**
 * What {@link MatrixFunctionWorker} and its thread share: the operations, the status words and
 * the data the thread starts with. Status word 0 is the request state ({@link MatrixWorkerStatus});
 * word 1 the thread's start ({@link MatrixWorkerStart}); word 2 a heartbeat the thread advances
 * after each matrix.
 */

/**
 * The part of Node's `MessagePort` the thread uses (declared here so that the package's type
 * declarations need no Node types).
 */
export interface ThreadPort {
  postMessage(message: unknown): void;
  close(): void;
}
/**
 * A function of one symmetric PSD matrix `M`, with one number per request (its parameter):
 * - `inverseRoot`: `(M + r I)^(-1/p)`, `r = parameter * lambda_max(M)` (Shampoo's ridge);
 * - `dampedInverse`: `(M + parameter I)^-1` (K-FAC's and FOOF's damped factors).
 */
export type MatrixOperation =
  { readonly kind: 'inverseRoot'; readonly p: number } | { readonly kind: 'dampedInverse' };

/** Values of the shared status word 0. */
export const MatrixWorkerStatus = {
  /** Nothing asked yet. */
  Idle: 0,
  /** The input holds a request; the thread is (or will be) computing. */
  Requested: 1,
  /** The output holds the results of the last request. */
  Done: 2,
  /** The last request failed; the thread posted the message on its port. */
  Failed: 3,
  /** The thread is to exit. */
  Stop: 4,
} as const;

/** Values of the shared status word 1. */
export const MatrixWorkerStart = {
  /** The thread has not run its entry yet. */
  Pending: 0,
  /** The entry runs. */
  Running: 1,
  /** The entry could not be loaded; the message is on the port. */
  Failed: 2,
} as const;

/** The thread's `workerData`: shared buffers and the fixed job layout. */
export interface MatrixThreadData {
  /** Word 0: {@link MatrixWorkerStatus}; word 1: {@link MatrixWorkerStart}; word 2: heartbeat. */
  readonly status: Int32Array;
  /** Each matrix's parameter for the current request (float64). */
  readonly parameters: Float64Array;
  /** The matrices, row-major, one after another. */
  readonly input: Float32Array;
  /** Their results, laid out as the input. */
  readonly output: Float32Array;
  /** The order of each matrix. */
  readonly sizes: readonly number[];
  /** The function of each matrix. */
  readonly operations: readonly MatrixOperation[];
  /** Where the thread posts a failed request's message. */
  readonly port: ThreadPort;
}
