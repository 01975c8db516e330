/**
 * `eva-tfjs train`: one model, one dataset, one optimizer; progress, per-epoch metrics, a JSON
 * log, a checkpoint after every epoch and `--resume`.
 *
 * The log (`log.jsonl`) always equals the checkpoint's epoch records: it is rewritten from them
 * (atomically) after each checkpoint is published, and first thing on `--resume`, so a kill
 * between the two never repeats or loses a row. A fresh run leaves an earlier run's log and
 * checkpoint in place until its own first checkpoint replaces both.
 */
import { Command, Option } from 'commander';
import { join } from 'node:path';
import { optimizerNames } from 'eva-tfjs';
import { checkpointFile, hasCheckpoint, writeFileAtomic } from '../../experiments/checkpoint.js';
import type { CliContext } from '../context.js';
import { flagValues, optimizerOptions, valueOf, type FlagValues } from '../optimizer-flags.js';
import { checkOutputFree, holdOutput } from '../output.js';
import { addRunFlags, type RunFlags } from '../run-flags.js';
import { checkRuns, describe, logText, metric, prepare, trainOne } from '../training.js';
import { checkOptimizerOptions, checkResumable, resolveRunFlags } from '../validation.js';

/** The flags of `train` (the optimizer flags apart: see optimizer-flags.ts). */
export interface TrainFlags extends RunFlags {
  optimizer: string;
  resume?: boolean;
}

/** Trains `flags.optimizer` with the optimizer flag values `values`. */
export async function train(
  context: CliContext,
  given: TrainFlags,
  values: FlagValues,
): Promise<void> {
  const flags = resolveRunFlags(given);
  const label = flags.optimizer;
  const options = optimizerOptions([flags.optimizer], {
    lr: flags.lr,
    lrFor: flags.lrFor,
    flags: values,
  }).get(flags.optimizer)!;
  checkOptimizerOptions(flags.optimizer, options);
  const out = flags.out ?? join('reports', `train-${flags.model}-${flags.data}-${flags.optimizer}`);
  const checkpointDir = join(out, 'checkpoint');
  const log = join(out, 'log.jsonl');
  if (flags.resume) checkResumable(out, checkpointDir);
  checkOutputFree(out);
  const { data, backend } = await prepare(context, flags);
  const run = { label, optimizer: flags.optimizer, options };
  checkRuns(context, [{ run, flags }], data);
  const output = holdOutput(context, out, [checkpointDir]);
  try {
    const details = describe(context, flags, {
      data,
      backend,
      weightDecay: valueOf(values, 'weightDecay'),
    });
    context.say(
      `${flags.optimizer} on ${flags.model}/${data.name}, ${JSON.stringify(options)}; ` +
        `${Object.entries(details)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
    );
    let published = 0;
    context.interruptNote = () =>
      published > 0
        ? `the checkpoint of epoch ${published} (${checkpointFile(checkpointDir)}) is intact: ` +
          'continue with --resume'
        : hasCheckpoint(checkpointDir)
          ? `${checkpointFile(checkpointDir)} is as it was`
          : 'no checkpoint was written';
    const result = await trainOne(context, run, flags, data, {
      checkpointDir,
      resume: flags.resume,
      onCheckpoint: (epochs) => {
        writeFileAtomic(log, logText(label, epochs));
        published = epochs.length;
      },
    });
    const last = result.epochs.at(-1)!;
    context.say(
      `${flags.optimizer}: final train loss ${last.trainLoss.toFixed(5)}, test loss ${metric(last.testLoss, 5)}` +
        (last.trainAccuracy != null ? `, test accuracy ${metric(last.testAccuracy, 4)}` : '') +
        `; skipped steps ${result.skippedSteps}; log ${log}, checkpoint ${checkpointDir}`,
    );
  } finally {
    context.interruptNote = undefined;
    output.release();
  }
}

/** The `train` command (its optimizer flags are added by the program). */
export function trainCommand(context: CliContext): Command {
  return addRunFlags(
    new Command('train').description('train one model on one dataset with one optimizer'),
    { epochs: 10, batchSize: 1000 },
  )
    .addOption(
      new Option('--optimizer <name>', 'optimizer').choices(optimizerNames()).default('eva'),
    )
    .option(
      '--resume',
      'continue from the checkpoint in the output directory (an error when there is none)',
    )
    .action(async (flags: TrainFlags, command: Command) =>
      train(context, flags, flagValues(command)),
    );
}
