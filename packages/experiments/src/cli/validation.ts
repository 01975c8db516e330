/**
 * Checks of a command's options that need no data, run before any data loads or any directory
 * is created (so a mistake costs nothing and leaves nothing behind): the shared run flags, the
 * launch (mpirun without --distributed), optimizer lists, each run's optimizer options, and
 * that `--resume` has something to resume from. The checks that need the data or the model
 * follow in `checkRuns` (training.ts), still before anything is written.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { optimizerEntry, type RegistryOptions } from 'eva-tfjs';
import { checkNodeBackend } from '../experiments/backend-setup.js';
import { checkpointFile, hasCheckpoint, loadCheckpoint } from '../experiments/checkpoint.js';
import { resolvedOptimizerOptions } from '../experiments/run-settings.js';
import type { ResolvedRunFlags, RunFlags } from './run-flags.js';

/**
 * The shared run flags checked, the warm-up settled: unset, it is 1 epoch (0 for a 1-epoch
 * run, which has nothing to warm up before); given, it must be in [0, epochs).
 */
export function resolveRunFlags<F extends RunFlags>(flags: F): F & ResolvedRunFlags {
  const { epochs } = flags;
  const warmupEpochs = flags.warmupEpochs ?? Math.min(1, epochs - 1);
  if (!(warmupEpochs >= 0 && warmupEpochs < epochs)) {
    throw new Error(
      `--warmup-epochs must be at least 0 and less than --epochs (${epochs}), got ${warmupEpochs}` +
        (warmupEpochs >= epochs ? `: with --epochs ${epochs}, use at most ${epochs - 1}` : ''),
    );
  }
  if (!(flags.lr > 0)) throw new Error(`--lr must be > 0, got ${flags.lr}`);
  if (!(flags.collectiveTimeout > 0)) {
    throw new Error(`--collective-timeout must be > 0 seconds, got ${flags.collectiveTimeout}`);
  }
  checkNodeBackend(flags.backend);
  return { ...flags, warmupEpochs };
}

/** The number of processes of the Open MPI job this process was started in (1: none). */
export function mpiWorldSize(env: NodeJS.ProcessEnv = process.env): number {
  const size = Number(env.OMPI_COMM_WORLD_SIZE);
  return Number.isInteger(size) && size > 0 ? size : 1;
}

/** This process's rank in the Open MPI job it was started in (0: none). */
export function mpiWorldRank(env: NodeJS.ProcessEnv = process.env): number {
  const rank = Number(env.OMPI_COMM_WORLD_RANK);
  return Number.isInteger(rank) && rank >= 0 ? rank : 0;
}

/**
 * Refuses a launch by `mpirun -np N` (N > 1) of a command without `--distributed`: each
 * process would run the whole job alone and write the same files.
 */
export function checkLaunch(command: string, distributed: boolean | undefined): void {
  const size = mpiWorldSize();
  if (size <= 1 || distributed) return;
  const fix =
    command === 'bench' ? 'run it without mpirun' : 'add --distributed, or run without mpirun';
  throw new Error(
    `started by mpirun as one of ${size} processes without --distributed: each would run the ` +
      `whole ${command} alone and write the same files; ${fix}`,
  );
}

/** Throws unless `names` (of `flag`) is a non-empty list without duplicates (case-insensitive). */
export function checkList(flag: string, names: readonly string[], what = 'optimizers'): void {
  if (names.length === 0) throw new Error(`no ${what} given (${flag} is empty)`);
  const seen = new Set<string>();
  for (const name of names) {
    const key = name.toLowerCase();
    if (seen.has(key)) throw new Error(`${flag} lists '${name}' twice`);
    seen.add(key);
  }
}

/**
 * Checks the options optimizer `name` would be built with (unknown names and options, values
 * against their declarations, the learning rate > 0); `context` prefixes the error (e.g. the
 * sweep value).
 */
export function checkOptimizerOptions(
  name: string,
  options: RegistryOptions,
  context?: string,
): void {
  try {
    optimizerEntry(name);
    resolvedOptimizerOptions(name, options);
  } catch (e) {
    if (context == null) throw e;
    throw new Error(`${context}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Throws unless `checkpointDir` holds a checkpoint to resume from (saying what is missing; an
 * old-format checkpoint is reported as such).
 */
export function checkResumable(out: string, checkpointDir: string): void {
  if (hasCheckpoint(checkpointDir)) return;
  if (existsSync(join(checkpointDir, 'checkpoint.json'))) loadCheckpoint(checkpointDir);
  const missing = existsSync(out)
    ? `${out} holds no checkpoint (${checkpointFile(checkpointDir)} does not exist)`
    : `${out} does not exist`;
  throw new Error(
    `--resume: nothing to resume from: ${missing}; run without --resume to start afresh`,
  );
}
