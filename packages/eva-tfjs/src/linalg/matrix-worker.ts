/**
 * Matrix functions computed on another core: a Node worker thread that takes a fixed list of
 * symmetric matrices (their orders and operations are set once: inverse p-th roots as Shampoo's,
 * damped inverses as K-FAC's and FOOF's, see {@link MatrixOperation}), computes each in float64
 * (as the 'host' routes do on the calling thread) and leaves the results in shared memory.
 *
 * Protocol (all synchronous for the caller, so it works inside a training step whatever drives
 * it): {@link MatrixFunctionWorker.submit} copies the matrices into a `SharedArrayBuffer` and
 * flips a shared status word to "requested"; the thread, blocked in `Atomics.wait`, wakes,
 * computes, writes the results and flips the word to "done"; {@link MatrixFunctionWorker.wait}
 * blocks in
 * `Atomics.wait` until then (at once when the thread finished in the meantime). A failed
 * request (e.g. a non-finite matrix) sets "failed" and posts its message on a port that `wait`
 * reads synchronously. The thread is `unref`ed: it never keeps the process alive.
 *
 * Node only (it reaches `worker_threads` through `process.getBuiltinModule`, so importing this
 * module stays safe in browsers, where {@link MatrixFunctionWorker.isSupported} is false).
 */
import type * as WorkerThreads from 'node:worker_threads';
import {
  MatrixWorkerStart as Start,
  MatrixWorkerStatus as Status,
  type MatrixOperation,
  type MatrixThreadData,
} from './matrix-worker-protocol.js';

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
 * How long `wait` lets the thread go without finishing a matrix before it gives up (ms): at
 * least 2 minutes, and 2e-5 n^3 ms for the largest order n, about 2-4 times what one float64
 * eigendecomposition (the slower operation, 5-13e-6 n^3 ms here) takes on a loaded core.
 */
function stallLimitMs(sizes: readonly number[]): number {
  const largest = Math.max(0, ...sizes);
  return Math.max(120_000, 2e-5 * largest ** 3);
}

/**
 * The script the thread runs: it imports the entry (the built .js next to this module; or, when
 * this module runs from its TypeScript source, as in this repository's tests and CLI through
 * tsx, the .ts entry after registering tsx's loader in the thread, which does not take over the
 * parent's `--import` hooks). When the entry cannot be loaded (e.g. a bundler left it behind),
 * the script reports why through the start word and the port instead of leaving the caller
 * waiting.
 */
function threadScript(entry?: string): { script: string; href: string } {
  const here = import.meta.url;
  const source = here.endsWith('.ts');
  const href = entry ?? new URL(`./matrix-worker-thread.${source ? 'ts' : 'js'}`, here).href;
  let prelude = 'Promise.resolve()';
  if (source) {
    // (import.meta.resolve is missing when tsx compiles this module to CommonJS for a require.)
    const resolve = (import.meta as { resolve?: (specifier: string) => string }).resolve;
    const tsx = typeof resolve === 'function' ? resolve('tsx/esm/api') : 'tsx/esm/api';
    prelude = `import(${JSON.stringify(tsx)}).then(({ register }) => register())`;
  }
  const script =
    "const { workerData } = require('node:worker_threads');\n" +
    `${prelude}.then(() => import(${JSON.stringify(href)})).catch((error) => {\n` +
    '  workerData.port.postMessage(String((error && error.stack) || error));\n' +
    `  Atomics.store(workerData.status, 1, ${Start.Failed});\n` +
    '  Atomics.notify(workerData.status, 0);\n' +
    '});\n';
  return { script, href };
}

/** Test hooks of {@link MatrixFunctionWorker} (not for normal use). */
export interface MatrixWorkerTestHooks {
  /** Another thread entry (a module URL). */
  readonly entry?: string;
  /** Another stall limit (ms). */
  readonly stallLimitMs?: number;
}

/** A worker thread computing functions of a fixed list of matrices, one request at a time. */
export class MatrixFunctionWorker {
  /** Whether this runtime has Node's `worker_threads` (Node >= 20.16). */
  static isSupported(): boolean {
    return workerThreads() != null && typeof SharedArrayBuffer === 'function';
  }

  private readonly worker: WorkerThreads.Worker;
  private readonly port: WorkerThreads.MessagePort;
  private readonly threads: typeof WorkerThreads;
  private readonly status: Int32Array;
  private readonly parameters: Float64Array;
  private readonly input: Float32Array;
  private readonly output: Float32Array;
  private readonly length: number;
  private exited: string | null = null;
  private inFlight = false;

  /**
   * @param sizes the order of each matrix of a request
   * @param operations the function of each (inverse roots: p a positive integer)
   * @param owner who asks, for error messages (e.g. `'Shampoo'`)
   * @param hooks for tests only
   */
  constructor(
    readonly sizes: readonly number[],
    readonly operations: readonly MatrixOperation[],
    private readonly owner: string,
    private readonly hooks: MatrixWorkerTestHooks = {},
  ) {
    const threads = workerThreads();
    if (threads == null || typeof SharedArrayBuffer !== 'function') {
      throw new Error(
        `${owner}: computing matrix functions in a worker thread needs Node's worker_threads ` +
          '(Node >= 20.16) and SharedArrayBuffer; this runtime has not both',
      );
    }
    if (sizes.length !== operations.length) {
      throw new Error(`${owner}: ${sizes.length} matrices but ${operations.length} operations`);
    }
    sizes.forEach((n) => {
      if (!Number.isInteger(n) || n < 1) {
        throw new Error(`${owner}: a matrix order must be a positive integer, got ${n}`);
      }
    });
    operations.forEach((operation) => {
      if (operation.kind === 'dampedInverse') return;
      if (operation.kind !== 'inverseRoot' || !Number.isInteger(operation.p) || operation.p < 1) {
        throw new Error(
          `${owner}: an operation must be { kind: 'dampedInverse' } or { kind: 'inverseRoot', p } ` +
            `with p a positive integer, got ${JSON.stringify(operation)}`,
        );
      }
    });
    this.threads = threads;
    this.length = sizes.reduce((sum, n) => sum + n * n, 0);
    this.status = new Int32Array(new SharedArrayBuffer(12));
    this.parameters = new Float64Array(new SharedArrayBuffer(8 * sizes.length));
    this.input = new Float32Array(new SharedArrayBuffer(4 * this.length));
    this.output = new Float32Array(new SharedArrayBuffer(4 * this.length));
    const { port1, port2 } = new threads.MessageChannel();
    this.port = port1;
    this.port.unref();
    const data: MatrixThreadData = {
      status: this.status,
      parameters: this.parameters,
      input: this.input,
      output: this.output,
      sizes: [...sizes],
      operations: operations.map((operation) => ({ ...operation })),
      port: port2,
    };
    this.worker = new threads.Worker(threadScript(hooks.entry).script, {
      eval: true,
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
   * of `sizes` (each is symmetrised, `(M + M^T) / 2`); `parameters` one number per matrix: the
   * ridge epsilon of an inverse root (finite, >= 0), the damping of an inverse (finite, > 0).
   * Throws if a request is in flight or an argument does not fit, before anything is sent.
   */
  submit(matrices: ArrayLike<number>, parameters: ArrayLike<number>): void {
    this.assertAlive();
    if (this.inFlight) throw new Error(`${this.owner}: a matrix request is already in flight`);
    if (matrices.length !== this.length) {
      throw new Error(
        `${this.owner}: a matrix request needs ${this.length} values (${this.sizes.length} ` +
          `matrices), got ${matrices.length}`,
      );
    }
    if (parameters.length !== this.sizes.length) {
      throw new Error(
        `${this.owner}: a matrix request needs ${this.sizes.length} parameters, got ` +
          `${parameters.length}`,
      );
    }
    for (let i = 0; i < parameters.length; i++) {
      const value = parameters[i]!;
      const root = this.operations[i]!.kind === 'inverseRoot';
      if (!Number.isFinite(value) || (root ? value < 0 : value <= 0)) {
        throw new Error(
          `${this.owner}: parameter ${i} (the ${root ? 'ridge epsilon of an inverse root' : 'damping of an inverse'}) ` +
            `must be a finite number ${root ? '>= 0' : '> 0'}, got ${value}`,
        );
      }
    }
    this.input.set(matrices);
    this.parameters.set(parameters);
    Atomics.store(this.status, 0, Status.Requested);
    Atomics.notify(this.status, 0);
    this.inFlight = true;
  }

  /**
   * Blocks until the request in flight is done and returns a copy of its results, laid out as
   * the request (the symmetric `n x n` result of each matrix). Throws the thread's message when the
   * request failed, or when the thread died or never started; either way nothing is in flight
   * afterwards.
   */
  wait(): Float32Array {
    if (!this.inFlight) throw new Error(`${this.owner}: no matrix request in flight`);
    this.inFlight = false;
    const limit = this.hooks.stallLimitMs ?? stallLimitMs(this.sizes);
    let beat = Atomics.load(this.status, 2);
    let lastProgress = Date.now();
    let now = Atomics.load(this.status, 0);
    while (now === Status.Requested) {
      if (Atomics.load(this.status, 1) === Start.Failed) this.failStart();
      Atomics.wait(this.status, 0, Status.Requested, 1000);
      now = Atomics.load(this.status, 0);
      if (now !== Status.Requested) break;
      this.assertAlive();
      const nextBeat = Atomics.load(this.status, 2);
      if (nextBeat !== beat) {
        beat = nextBeat;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress > limit) {
        const started = Atomics.load(this.status, 1) === Start.Running;
        const reason =
          `the matrix worker thread ${started ? 'finished no matrix' : 'did not start'} ` +
          `within ${Math.round(limit / 1000)} s; it may have died (e.g. out of memory)`;
        this.terminate();
        this.exited = reason;
        throw new Error(
          `${this.owner}: ${reason}. Its entry: ${threadScript(this.hooks.entry).href}`,
        );
      }
    }
    if (now === Status.Failed) {
      const message = this.threads.receiveMessageOnPort(this.port)?.message as string | undefined;
      throw new Error(`${this.owner}: the matrix worker thread failed: ${message ?? 'no message'}`);
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
    Atomics.store(this.status, 0, Status.Stop);
    Atomics.notify(this.status, 0);
    void this.worker.terminate();
    this.port.close();
  }

  /** The thread's entry could not be loaded: stops it and throws its reason. */
  private failStart(): never {
    const message = this.threads.receiveMessageOnPort(this.port)?.message as string | undefined;
    this.terminate();
    this.exited = `it could not start: ${message ?? 'no message'}`;
    throw new Error(
      `${this.owner}: the matrix worker thread could not load ${threadScript(this.hooks.entry).href}: ` +
        (message ?? 'no message'),
    );
  }

  private assertAlive(): void {
    if (Atomics.load(this.status, 1) === Start.Failed) this.failStart();
    if (this.exited != null) {
      throw new Error(`${this.owner}: the matrix worker thread is gone (${this.exited})`);
    }
  }
}
