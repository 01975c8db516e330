/**
 * The process of a data-parallel rank runs with V8's single-threaded garbage collector. With
 * V8's default concurrent and parallel GC, the collector's helper threads of one rank compete
 * for the cores with the other ranks' MPI progress (a blocking allreduce polls): on this 2-core
 * machine, 2 ranks, Eva's allreduce took 43 ms instead of 9.6 ms and its step 513 instead of
 * 388 ms (bench/README.md, "Data-parallel"). The flag cannot be set once V8 runs (its flags are
 * frozen) nor through NODE_OPTIONS, so a `--distributed` command restarts itself once with it.
 */
import { spawn } from 'node:child_process';

/** The flag a rank's node process needs. */
export const RANK_NODE_FLAG = '--single-threaded-gc';

/**
 * The command line (node arguments, script, its arguments) to restart this process with
 * {@link RANK_NODE_FLAG}, or null when no restart is needed: not a `--distributed` command, or
 * node was started with the flag or with its negation (`--no-single-threaded-gc` keeps V8's
 * concurrent collector).
 */
export function rankRestartArguments(execArgv: string[], argv: string[]): string[] | null {
  if (!argv.slice(2).includes('--distributed')) return null;
  if (execArgv.some((a) => a.endsWith('single-threaded-gc'))) return null;
  return [RANK_NODE_FLAG, ...execArgv, ...argv.slice(1)];
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Restarts this process as a child with {@link RANK_NODE_FLAG} when
 * {@link rankRestartArguments} says so, forwards SIGINT, SIGTERM and SIGHUP to it and ends
 * with its exit code (or signal). Returns whether it did: the caller then does nothing else.
 * The child inherits the environment, so it joins the mpirun job in the parent's place.
 */
export function restartAsRankProcess(): boolean {
  const args = rankRestartArguments(process.execArgv, process.argv);
  if (args == null) return false;
  const child = spawn(process.execPath, args, { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => {
    child.kill(signal);
  };
  for (const signal of FORWARDED) process.on(signal, forward);
  child.on('error', (error) => {
    console.error(`eva-tfjs: could not restart with ${RANK_NODE_FLAG}: ${error.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    for (const s of FORWARDED) process.off(s, forward);
    if (signal != null) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
  return true;
}
