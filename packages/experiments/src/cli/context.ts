/**
 * What every command shares, passed to it instead of module state: the command line as typed
 * (for reports), the data-parallel job this process joined (if any), its rank, printing on rank
 * 0 only, and how a failure ends the process (every rank of a job).
 */
import { MpiCommunicator, type Communicator } from 'eva-tfjs/distributed';

export class CliContext {
  /** `eva-tfjs train --epochs 2 ...`, for reports. */
  readonly commandLine: string;
  #communicator: Communicator | undefined;

  /** @param args the arguments after the script (`process.argv.slice(2)`) */
  constructor(args: readonly string[]) {
    this.commandLine = ['eva-tfjs', ...args].join(' ');
  }

  /** The data-parallel job (unset: a single process). */
  get communicator(): Communicator | undefined {
    return this.#communicator;
  }

  /** This process's rank (0 for a single process). */
  get rank(): number {
    return this.#communicator?.rank ?? 0;
  }

  /** Whether this process prints and writes (rank 0 of a job, or the only process). */
  get isRoot(): boolean {
    return this.rank === 0;
  }

  /** console.log on rank 0 only. */
  say(text: string): void {
    if (this.isRoot) console.log(text);
  }

  /** Joins the mpirun job this process was started in (once). */
  joinJob(options: { collectiveTimeout: number }): Communicator {
    if (this.#communicator != null) throw new Error('joinJob: already in a job');
    const communicator = new MpiCommunicator(options);
    this.#communicator = communicator;
    process.on('exit', () => communicator.finalize());
    return communicator;
  }

  /**
   * Reports `error` (`eva-tfjs (rank r): message`; the stack with EVA_DEBUG) and exits 1; in a
   * job, aborts the other ranks too, which would otherwise wait forever.
   */
  fail(error: unknown): never {
    const rank = this.#communicator != null ? ` (rank ${this.#communicator.rank})` : '';
    console.error(`eva-tfjs${rank}: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.EVA_DEBUG) console.error(error);
    if (this.#communicator != null && this.#communicator.size > 1) this.#communicator.abort(1);
    process.exit(1);
  }
}
