/**
 * `eva-tfjs compare` (the default command, what `npm start` runs): several optimizers on the
 * same task and seed; writes a report (Markdown summary, time to target, SVG plots).
 */
import { Command } from 'commander';
import { join } from 'node:path';
import { optimizerNames } from 'eva-tfjs';
import type { CliContext } from '../context.js';
import { flagValues, optimizerOptions, valueOf, type FlagValues } from '../optimizer-flags.js';
import { checkOutputFree } from '../output.js';
import { names, number } from '../parsers.js';
import { addRunFlags, type RunFlags } from '../run-flags.js';
import {
  checkAnyResumable,
  checkRuns,
  describe,
  prepare,
  RESUME_DESCRIPTION,
  trainAndReport,
} from '../training.js';
import { checkList, checkOptimizerOptions, resolveRunFlags } from '../validation.js';

/** The flags of `compare` (the optimizer flags apart: see optimizer-flags.ts). */
export interface CompareFlags extends RunFlags {
  optimizers: string[];
  target?: number;
  resume?: boolean;
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
  checkOutputFree(out);
  const planned = [...perOptimizer].map(([name, options]) => ({
    run: { label: name, optimizer: name, options },
    flags,
  }));
  if (given.resume)
    checkAnyResumable(
      out,
      planned.map(({ run }) => run.label),
    );
  const { data, backend } = await prepare(context, flags);
  checkRuns(context, planned, data);
  await trainAndReport(context, planned, data, {
    title: `${flags.model} on ${data.name}: ${flags.optimizers.join(' vs ')}`,
    out,
    details: describe(context, flags, {
      data,
      backend,
      weightDecay: valueOf(values, 'weightDecay'),
    }),
    target: flags.target,
    resume: given.resume,
  });
}

/** The `compare` command (its optimizer flags are added by the program). */
export function compareCommand(context: CliContext): Command {
  return addRunFlags(
    new Command('compare').description(
      'train several optimizers on the same task and seed; write a report',
    ),
    { epochs: 10, batchSize: 1000 },
  )
    .option('--optimizers <names>', `comma-separated (${optimizerNames().join(', ')})`, names, [
      'sgd',
      'eva',
    ])
    .option(
      '--target <x>',
      'target test loss (accuracy for classifiers) for time-to-target',
      number('--target'),
    )
    .option('--resume', RESUME_DESCRIPTION)
    .action(async (flags: CompareFlags, command: Command) =>
      compare(context, flags, flagValues(command)),
    );
}
