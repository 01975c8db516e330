/** Thin Open MPI binding over MPI_COMM_WORLD (see README of eva-tfjs, "Data-parallel training"). */

/** Initialises MPI (MPI_THREAD_MULTIPLE, errors returned as exceptions). Idempotent. */
export function init(): boolean;
/** Finalises MPI; call once on every rank before exiting. */
export function finalize(): void;
/** This process's rank in MPI_COMM_WORLD. */
export function rank(): number;
/** The number of ranks. */
export function size(): number;
/** Ends the whole job (every rank) with `code` (default 1). */
export function abort(code?: number): never;
/** In-place sum across ranks, off the JavaScript thread; resolves with the same array. */
export function allreduceSum(data: Float32Array): Promise<Float32Array>;
/** In-place average across ranks (sum, then scaled by 1/size on the worker thread). */
export function allreduceAverage(data: Float32Array): Promise<Float32Array>;
/** In-place broadcast from `root` (default 0). */
export function broadcast(data: Float32Array, root?: number): Promise<Float32Array>;
/** Waits for every rank. */
export function barrier(): Promise<void>;
/** In-place sum on the calling (JavaScript) thread: for synchronous optimizer steps. */
export function allreduceSumSync(data: Float32Array): Float32Array;
/** In-place average on the calling thread. */
export function allreduceAverageSync(data: Float32Array): Float32Array;
/** In-place broadcast from `root` on the calling thread. */
export function broadcastSync(data: Float32Array, root?: number): Float32Array;
/** Barrier on the calling thread. */
export function barrierSync(): void;
/**
 * Aborts the whole job (exit code 124, message on stderr) when this rank spends more than
 * `seconds` inside one collective, sync or async (0 turns the watchdog off).
 */
export function setCollectiveTimeout(seconds: number): void;
