/**
 * `eva-tfjs compare` (the default command, what `npm start` runs): several optimizers on the
 * same task and seed; writes a report (Markdown summary, time to target, SVG plots).
 */
import { Command } from 'commander';
import { join } from 'node:path';
import { optimizerNames } from 'eva-tfjs';
import type { CliContext } from '../context.js';
import { flagValues, optimizerOptions, valueOf, type FlagValues } from '../optimizer-flags.js';
import { names } from '../parsers.js';
import { addRunFlags, type RunFlags } from '../run-flags.js';
import { addReportingFlags, runPlanned, type ReportingFlags } from '../training.js';
import { checkList, checkOptimizerOptions, resolveRunFlags } from '../validation.js';

/** The flags of `compare` (the optimizer flags apart: see optimizer-flags.ts). */
export interface CompareFlags extends RunFlags, ReportingFlags {
  optimizers: string[];
}

/** Trains each of `flags.optimizers` in turn and writes the report. */
export async function compare(
  context: CliContext,
  given: CompareFlags,
  values: FlagValues,
): Promise<void> {
  const flags = resolveRunFlags(given);
  checkList('--optimizers', flags.optimizers);
  const perOptimizer = optimizerOptions(flags.optimizers, {
    lr: flags.lr,
    lrFor: flags.lrFor,
    flags: values,
  });
  for (const [name, options] of perOptimizer) checkOptimizerOptions(name, options);
  const out = flags.out ?? join('reports', `compare-${flags.model}-${flags.data}`);
  const planned = [...perOptimizer].map(([name, options]) => ({
    run: { label: name, optimizer: name, options },
    flags,
  }));
  await runPlanned(context, flags, planned, {
    out,
    title: (dataset) => `${flags.model} on ${dataset}: ${flags.optimizers.join(' vs ')}`,
    weightDecay: valueOf(values, 'weightDecay'),
  });
}

/** The `compare` command (its optimizer flags are added by the program). */
export function compareCommand(context: CliContext): Command {
  return addReportingFlags(
    addRunFlags(
      new Command('compare').description(
        'train several optimizers on the same task and seed; write a report',
      ),
      { epochs: 10, batchSize: 1000 },
    ),
  )
    .option('--optimizers <names>', `comma-separated (${optimizerNames().join(', ')})`, names, [
      'sgd',
      'eva',
    ])
    .action(async (flags: CompareFlags, command: Command) =>
      compare(context, flags, flagValues(command)),
    );
}
