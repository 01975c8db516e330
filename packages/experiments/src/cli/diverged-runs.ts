/**
 * A run of a several-run command (compare, sweep) that diverges is a result, not a failure: a
 * learning-rate sweep is expected to try rates that are too high. Its record, `diverged.json`
 * in the run's directory (the epochs before the divergence, the epoch and why, the run's
 * settings), lets `--resume` take it as finished instead of training it again.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../experiments/checkpoint.js';
import { settingDifferences } from '../experiments/run-settings.js';
import type { RunDiverged, RunResult, RunSettings } from '../experiments/train-run.js';

/** The record of a diverged run in its run directory. */
export function divergedFile(runDir: string): string {
  return join(runDir, 'diverged.json');
}

/** Writes the record of `diverged` into `runDir` (atomically). */
export function saveDiverged(runDir: string, diverged: RunDiverged): void {
  const record = { settings: diverged.settings, result: diverged.result };
  mkdirSync(runDir, { recursive: true });
  writeFileAtomic(divergedFile(runDir), `${JSON.stringify(record, null, 1)}\n`);
}

/**
 * The result of the diverged run recorded in `runDir`, or null when there is none. Throws when
 * the record is unreadable or of another run (each differing setting named).
 */
export function loadDiverged(runDir: string, settings: RunSettings): RunResult | null {
  const file = divergedFile(runDir);
  if (!existsSync(file)) return null;
  let record: { settings: RunSettings; result: RunResult };
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as typeof record;
  } catch (e) {
    throw new Error(`${file} is not a diverged run's record: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (record.result?.diverged == null || !Array.isArray(record.result.epochs)) {
    throw new Error(`${file} is not a diverged run's record (no result.diverged or epochs)`);
  }
  const differences = settingDifferences(
    (record.settings ?? {}) as unknown as Record<string, unknown>,
    settings as unknown as Record<string, unknown>,
  );
  if (differences.length > 0) {
    throw new Error(
      `${file} records a run with other settings (${differences.join('; ')}); resume with the ` +
        'same settings, or start afresh without --resume (or in another --out)',
    );
  }
  return { ...record.result, resumedAfter: record.result.epochs.length };
}
