/**
 * Inverse roots computed on another core: a Node worker thread that takes a fixed list of
 * symmetric matrices (their orders and root exponents are set once), computes
 * `(A + r I)^(-1/p)` of each in float64 ({@link inverseRootFloat64}, as `inverseRootsHost` does
 * on the calling thread) and leaves the results in shared memory.
 *
 * Protocol (all synchronous for the caller, so it works inside a training step whatever drives
 * it): {@link InverseRootWorker.submit} copies the matrices into a `SharedArrayBuffer` and flips
 * a shared status word to "requested"; the thread, blocked in `Atomics.wait`, wakes, computes,
 * writes the roots and flips the word to "done"; {@link InverseRootWorker.wait} blocks in
 * `Atomics.wait` until then (at once when the thread finished in the meantime). A failed
 * request (e.g. a non-finite matrix) sets "failed" and posts its message on a port that `wait`
 * reads synchronously. The thread is `unref`ed: it never keeps the process alive.
 *
 * Node only (it reaches `worker_threads` through `process.getBuiltinModule`, so importing this
 * module stays safe in browsers, where {@link InverseRootWorker.isSupported} is false).
 */
import type * as WorkerThreads from 'node:worker_threads';
import { checkRoot } from './inverse-root-float64.js';
import { RootStatus, type RootThreadData } from './inverse-root-protocol.js';

/** How long `wait` allows a new thread to start before it gives up (ms). */
const START_TIMEOUT_MS = 60_000;

function workerThreads(): typeof WorkerThreads | null {
  const process = (
    globalThis as {
      process?: { getBuiltinModule?: (id: string) => unknown };
    }
  ).process;
  const module = process?.getBuiltinModule?.('node:worker_threads');
  return (module as typeof WorkerThreads | undefined) ?? null;
}

/**
 * How the thread starts: the built .js entry next to this module; or, when this module runs
 * from its TypeScript source (this repository's tests and CLI, through tsx), an evaluated
 * script that registers tsx's loader in the thread and imports the .ts entry (a thread does not
 * take over the parent's `--import tsx` hooks).
 */
function threadEntry(): { entry: URL | string; eval: boolean; href: string } {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) {
    const entry = new URL('./inverse-root-thread.js', here);
    return { entry, eval: false, href: entry.href };
  }
  const href = new URL('./inverse-root-thread.ts', here).href;
  // (import.meta.resolve is missing when tsx compiles this module to CommonJS for a require.)
  const resolve = (import.meta as { resolve?: (specifier: string) => string }).resolve;
  const tsx = typeof resolve === 'function' ? resolve('tsx/esm/api') : 'tsx/esm/api';
  const script =
    `import(${JSON.stringify(tsx)})` +
    `.then(({ register }) => { register(); return import(${JSON.stringify(href)}); })`;
  return { entry: script, eval: true, href };
}

/** A worker thread computing the inverse roots of a fixed list of matrices, one request at a time. */
export class InverseRootWorker {
  /** Whether this runtime has Node's `worker_threads` (Node >= 20.16). */
  static isSupported(): boolean {
    return workerThreads() != null && typeof SharedArrayBuffer === 'function';
  }

  private readonly worker: WorkerThreads.Worker;
  private readonly port: WorkerThreads.MessagePort;
  private readonly threads: typeof WorkerThreads;
  private readonly status: Int32Array;
  private readonly ridge: Float64Array;
  private readonly input: Float32Array;
  private readonly output: Float32Array;
  private readonly length: number;
  private exited: string | null = null;
  private inFlight = false;

  /**
   * @param sizes the order of each matrix of a request
   * @param exponents the root p of each (a positive integer)
   * @param owner who asks, for error messages (e.g. `'Shampoo'`)
   */
  constructor(
    readonly sizes: readonly number[],
    readonly exponents: readonly number[],
    private readonly owner: string,
  ) {
    const threads = workerThreads();
    if (threads == null || typeof SharedArrayBuffer !== 'function') {
      throw new Error(
        `${owner}: computing inverse roots in a worker thread needs Node's worker_threads ` +
          '(Node >= 20.16) and SharedArrayBuffer; this runtime has not both',
      );
    }
    if (sizes.length !== exponents.length) {
      throw new Error(`${owner}: ${sizes.length} matrices but ${exponents.length} exponents`);
    }
    sizes.forEach((n) => {
      if (!Number.isInteger(n) || n < 1) {
        throw new Error(`${owner}: a matrix order must be a positive integer, got ${n}`);
      }
    });
    exponents.forEach((p) => checkRoot(p, 0));
    this.threads = threads;
    this.length = sizes.reduce((sum, n) => sum + n * n, 0);
    this.status = new Int32Array(new SharedArrayBuffer(8));
    this.ridge = new Float64Array(new SharedArrayBuffer(8));
    this.input = new Float32Array(new SharedArrayBuffer(4 * this.length));
    this.output = new Float32Array(new SharedArrayBuffer(4 * this.length));
    const { port1, port2 } = new threads.MessageChannel();
    this.port = port1;
    this.port.unref();
    const data: RootThreadData = {
      status: this.status,
      ridge: this.ridge,
      input: this.input,
      output: this.output,
      sizes: [...sizes],
      exponents: [...exponents],
      port: port2,
    };
    const { entry, eval: evaluated } = threadEntry();
    this.worker = new threads.Worker(entry, {
      eval: evaluated,
      execArgv: [],
      workerData: data,
      transferList: [port2],
    });
    this.worker.unref();
    this.worker.on('error', (error: Error) => {
      this.exited = `it failed: ${error.message}`;
    });
    this.worker.on('exit', (code: number) => {
      this.exited ??= `it exited with code ${code}`;
    });
  }

  /** Whether a request is in flight (submitted, not yet collected by {@link wait}). */
  get busy(): boolean {
    return this.inFlight;
  }

  /**
   * Starts a request: `matrices` holds every matrix row-major, one after another, in the order
   * of `sizes` (only each upper triangle of `(M + M^T) / 2` is used, as `inverseRootsHost`);
   * `ridgeEpsilon` as `inverseRootFloat64`'s. Throws if a request is in flight.
   */
  submit(matrices: ArrayLike<number>, ridgeEpsilon: number): void {
    this.assertAlive();
    if (this.inFlight) throw new Error(`${this.owner}: a root request is already in flight`);
    if (matrices.length !== this.length) {
      throw new Error(
        `${this.owner}: a root request needs ${this.length} values (${this.sizes.length} ` +
          `matrices), got ${matrices.length}`,
      );
    }
    checkRoot(1, ridgeEpsilon);
    this.input.set(matrices);
    this.ridge[0] = ridgeEpsilon;
    Atomics.store(this.status, 0, RootStatus.Requested);
    Atomics.notify(this.status, 0);
    this.inFlight = true;
  }

  /**
   * Blocks until the request in flight is done and returns a copy of its roots, laid out as the
   * request (the symmetric `n x n` root of each matrix). Throws the thread's message when the
   * request failed, or when the thread died or never started; either way nothing is in flight
   * afterwards.
   */
  wait(): Float32Array {
    if (!this.inFlight) throw new Error(`${this.owner}: no root request in flight`);
    this.inFlight = false;
    const started = Date.now();
    let now = Atomics.load(this.status, 0);
    while (now === RootStatus.Requested) {
      Atomics.wait(this.status, 0, RootStatus.Requested, 1000);
      now = Atomics.load(this.status, 0);
      if (now !== RootStatus.Requested) break;
      this.assertAlive();
      if (Atomics.load(this.status, 1) === 0 && Date.now() - started > START_TIMEOUT_MS) {
        this.terminate();
        throw new Error(
          `${this.owner}: the inverse-root worker thread (${threadEntry().href}) did not start ` +
            `within ${START_TIMEOUT_MS / 1000} s`,
        );
      }
    }
    if (now === RootStatus.Failed) {
      const message = this.threads.receiveMessageOnPort(this.port)?.message as string | undefined;
      throw new Error(
        `${this.owner}: the inverse-root worker thread failed: ${message ?? 'no message'}`,
      );
    }
    return this.output.slice();
  }

  /** Waits for the request in flight, if any, and drops its result (or its failure). */
  discard(): void {
    if (!this.inFlight) return;
    try {
      this.wait();
    } catch {
      // Dropped on purpose: the result was not wanted.
    }
  }

  /** Stops the thread (a request in flight is dropped). Safe to call more than once. */
  terminate(): void {
    this.inFlight = false;
    if (this.exited != null) return;
    this.exited = 'it was terminated';
    Atomics.store(this.status, 0, RootStatus.Stop);
    Atomics.notify(this.status, 0);
    void this.worker.terminate();
    this.port.close();
  }

  private assertAlive(): void {
    if (this.exited != null) {
      throw new Error(`${this.owner}: the inverse-root worker thread is gone (${this.exited})`);
    }
  }
}
