/**
 * The output directory of a run: one writer at a time (a lock held for the whole run, on rank 0
 * only), stale temporaries of interrupted writes removed once the lock is held, and no empty
 * directory left behind by a run that created it and then failed.
 */
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { removeStaleTemporaries } from '../experiments/checkpoint.js';
import { checkOutputDirectoryFree, lockOutputDirectory } from '../experiments/output-lock.js';
import type { CliContext } from './context.js';
import { mpiWorldRank } from './validation.js';

/**
 * Throws early (before data loads; nothing is created) when another live run holds `out`; on
 * the rank that will write only (the lock itself is taken by {@link holdOutput}).
 */
export function checkOutputFree(out: string): void {
  if (mpiWorldRank() === 0) checkOutputDirectoryFree(out);
}

/** A held output directory; {@link release} it when the run ends. */
export interface HeldOutput {
  release(): void;
}

/**
 * Takes the lock of `out` (creating it) on rank 0 and removes stale temporaries in `out` and
 * `others` (e.g. the checkpoint directory); says when a stale lock was taken over. Released on
 * a failure or interrupt too (see {@link CliContext.atEarlyExit}); a directory this call
 * created that is still empty then is removed. Other ranks hold nothing.
 */
export function holdOutput(
  context: CliContext,
  out: string,
  others: readonly string[] = [],
): HeldOutput {
  if (!context.isRoot) return { release: () => {} };
  const created = !existsSync(out);
  const lock = lockOutputDirectory(out);
  let forget = (): void => {};
  const release = () => {
    forget();
    lock.release();
    if (created) {
      try {
        if (readdirSync(out).length === 0) rmdirSync(out);
      } catch {
        // Gone, or not empty after all.
      }
    }
  };
  forget = context.atEarlyExit(release);
  if (lock.takenOver != null) context.say(`Note: ${lock.takenOver}`);
  const stale = [out, ...others].flatMap((dir) => removeStaleTemporaries(dir));
  if (stale.length > 0) {
    context.say(
      `Removed ${stale.length} temporary file(s) of an interrupted write: ${stale.join(', ')}`,
    );
  }
  return { release };
}
