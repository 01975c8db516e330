/**
 * The collectives data-parallel training needs, over Open MPI through the optional
 * `@eva-tfjs/mpi` addon (a workspace package of this repository), or trivially for one process.
 * The core package never needs MPI: asking for it without the addon is a clear error.
 */
import { createRequire } from 'node:module';

/** Synchronous collectives over all ranks (used inside synchronous optimizer steps). */
export interface Communicator {
  readonly rank: number;
  readonly size: number;
  /** In-place sum across ranks. */
  allreduceSum(data: Float32Array): void;
  /** In-place broadcast from `root`. */
  broadcast(data: Float32Array, root: number): void;
  /** Waits for every rank. */
  barrier(): void;
  /** Ends the whole job (every rank) with `code`. */
  abort(code: number): never;
  /** Finalises the communicator (call once, at the end, on every rank). */
  finalize(): void;
}

/** The single-process communicator: collectives are identities. */
export class LocalCommunicator implements Communicator {
  readonly rank = 0;
  readonly size = 1;
  allreduceSum(): void {}
  broadcast(): void {}
  barrier(): void {}
  abort(code: number): never {
    process.exit(code);
  }
  finalize(): void {}
}

interface MpiAddon {
  init(): boolean;
  finalize(): void;
  rank(): number;
  size(): number;
  abort(code?: number): never;
  allreduceSumSync(data: Float32Array): Float32Array;
  broadcastSync(data: Float32Array, root?: number): Float32Array;
  barrierSync(): void;
  setCollectiveTimeout(seconds: number): void;
}

/** What a user must do to get data-parallel training running (shown when the addon is missing). */
export const MPI_SETUP_HINT =
  'Distributed training needs Open MPI and the @eva-tfjs/mpi addon, built once on this machine: ' +
  '(1) install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev); ' +
  '(2) build the addon: `npm run build:mpi` in the eva-tfjs repository, or in your project ' +
  '`npm install @eva-tfjs/mpi && npm run build --prefix node_modules/@eva-tfjs/mpi`; ' +
  '(3) launch one process per rank, e.g. `mpirun -np 2 npx eva-tfjs train --distributed ...`.';

/**
 * Loads the MPI addon (`moduleName`, default `@eva-tfjs/mpi`); when it is not installed or not
 * built, throws {@link MPI_SETUP_HINT} with the underlying reason. Other load errors (e.g. a
 * broken Open MPI library) are rethrown as they are.
 */
export function loadMpiAddon(moduleName = '@eva-tfjs/mpi'): MpiAddon {
  const require = createRequire(import.meta.url);
  try {
    return require(moduleName) as MpiAddon;
  } catch (e) {
    const error = e as Error & { code?: string };
    const missing =
      (error.code === 'MODULE_NOT_FOUND' && error.message.includes(`'${moduleName}'`)) ||
      error.code === 'EVA_MPI_NOT_BUILT';
    if (!missing) throw e;
    const reason =
      error.code === 'EVA_MPI_NOT_BUILT'
        ? 'here the addon is installed but not built'
        : `here ${moduleName} is not installed`;
    throw new Error(`${MPI_SETUP_HINT} (${reason})`, { cause: e });
  }
}

/** Options of {@link MpiCommunicator}. */
export interface MpiOptions {
  /** Abort the job when a rank waits longer than this in one collective (seconds; 0: never). */
  collectiveTimeout?: number;
  /**
   * Abort the whole job (instead of leaving the other ranks waiting) on an uncaught exception
   * or unhandled rejection in this process (default true).
   */
  abortOnError?: boolean;
}

/** MPI_COMM_WORLD through the addon. */
export class MpiCommunicator implements Communicator {
  readonly rank: number;
  readonly size: number;
  private readonly mpi: MpiAddon;

  constructor(options: MpiOptions = {}) {
    this.mpi = loadMpiAddon();
    this.mpi.init();
    this.rank = this.mpi.rank();
    this.size = this.mpi.size();
    const timeout = options.collectiveTimeout ?? 300;
    if (!(timeout >= 0)) throw new Error(`collectiveTimeout must be >= 0 seconds, got ${timeout}`);
    this.mpi.setCollectiveTimeout(timeout);
    if (options.abortOnError ?? true) {
      const fail = (error: unknown) => {
        const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
        process.stderr.write(`eva-tfjs: rank ${this.rank} failed; aborting the job\n${text}\n`);
        this.mpi.abort(1);
      };
      process.on('uncaughtException', fail);
      process.on('unhandledRejection', fail);
    }
  }

  allreduceSum(data: Float32Array): void {
    this.mpi.allreduceSumSync(data);
  }

  broadcast(data: Float32Array, root: number): void {
    this.mpi.broadcastSync(data, root);
  }

  barrier(): void {
    this.mpi.barrierSync();
  }

  abort(code: number): never {
    return this.mpi.abort(code);
  }

  finalize(): void {
    this.mpi.finalize();
  }
}
