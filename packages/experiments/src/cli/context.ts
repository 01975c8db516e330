/**
 * What every command shares, passed to it instead of module state: the command line as typed
 * (for reports), the data-parallel job this process joined (if any), its rank, printing on rank
 * 0 only, what to undo when the process ends early (progress bars, output locks), and how a
 * failure or an interrupt (Ctrl-C, SIGTERM) ends the process (every rank of a job).
 */
import { MpiCommunicator, type Communicator } from 'eva-tfjs/distributed';

/** `arg` as a POSIX shell would need it typed (single-quoted when it holds anything special). */
function shellQuoted(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export class CliContext {
  /** `eva-tfjs train --epochs 2 ...`, for reports. */
  readonly commandLine: string;
  #communicator: Communicator | undefined;
  readonly #cleanups = new Set<() => void>();
  /** What an interrupt leaves behind, printed with it (e.g. the checkpoint to resume from). */
  interruptNote: (() => string) | undefined;

  /** @param args the arguments after the script (`process.argv.slice(2)`) */
  constructor(args: readonly string[]) {
    this.commandLine = ['eva-tfjs', ...args.map(shellQuoted)].join(' ');
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
   * Registers `cleanup` to run when the process ends early (a failure or an interrupt), e.g.
   * stopping a progress bar (which restores the terminal's cursor) or releasing a lock. Returns
   * a function that unregisters it (call it when the cleanup has run normally).
   */
  atEarlyExit(cleanup: () => void): () => void {
    this.#cleanups.add(cleanup);
    return () => this.#cleanups.delete(cleanup);
  }

  /** Runs the registered cleanups (latest first), once each; their errors are ignored. */
  #cleanUp(): void {
    const cleanups = [...this.#cleanups].reverse();
    this.#cleanups.clear();
    for (const cleanup of cleanups) {
      try {
        cleanup();
      } catch {
        // Ending anyway.
      }
    }
  }

  #exit(code: number): never {
    if (this.#communicator != null && this.#communicator.size > 1) this.#communicator.abort(code);
    process.exit(code);
  }

  /**
   * Reports `error` (`eva-tfjs (rank r): message`; the stack with EVA_DEBUG) and exits 1 after
   * the cleanups; in a job, aborts the other ranks too, which would otherwise wait forever.
   */
  fail(error: unknown): never {
    this.#cleanUp();
    const rank = this.#communicator != null ? ` (rank ${this.#communicator.rank})` : '';
    console.error(`eva-tfjs${rank}: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.EVA_DEBUG) console.error(error);
    this.#exit(1);
  }

  /**
   * Ends the process on SIGINT (Ctrl-C) and SIGTERM: the cleanups run (the progress bar stops
   * and gives the cursor back, the output lock is released), and the exit code is 130 (143).
   * Checkpoints are published by one rename, so the last one stays usable with --resume.
   */
  handleInterrupts(): void {
    const codes: Array<[NodeJS.Signals, number]> = [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ];
    let interrupted = false;
    for (const [signal, code] of codes) {
      // `on` with a guard, not `once`: a rank restarted by rank-process.ts can receive a
      // terminal's Ctrl-C twice (from the terminal and forwarded by its parent).
      process.on(signal, () => {
        if (interrupted) return;
        interrupted = true;
        this.#cleanUp();
        const rank = this.#communicator != null ? ` (rank ${this.#communicator.rank})` : '';
        let note = '';
        try {
          note = this.interruptNote?.() ?? '';
        } catch {
          // Only a note.
        }
        console.error(`\neva-tfjs${rank}: interrupted (${signal})${note ? `; ${note}` : ''}`);
        this.#exit(code);
      });
    }
  }
}
