/**
 * `eva-tfjs train`: one model, one dataset, one optimizer; progress, per-epoch metrics, a JSON
 * log, a checkpoint after every epoch and `--resume`.
 */
import { Command, Option } from 'commander';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { optimizerNames } from 'eva-tfjs';
import type { CliContext } from '../context.js';
import { flagValues, optimizerOptions, valueOf, type FlagValues } from '../optimizer-flags.js';
import { addRunFlags, type RunFlags } from '../run-flags.js';
import { describe, prepare, trainOne } from '../training.js';

/** The flags of `train` (the optimizer flags apart: see optimizer-flags.ts). */
export interface TrainFlags extends RunFlags {
  optimizer: string;
  resume?: boolean;
}

/** Trains `flags.optimizer` with the optimizer flag values `values`. */
export async function train(
  context: CliContext,
  flags: TrainFlags,
  values: FlagValues,
): Promise<void> {
  const options = optimizerOptions([flags.optimizer], {
    lr: flags.lr,
    lrFor: flags.lrFor,
    flags: values,
  }).get(flags.optimizer)!;
  const out = flags.out ?? join('reports', `train-${flags.model}-${flags.data}-${flags.optimizer}`);
  const { data, backend } = await prepare(context, flags);
  const log = join(out, 'log.jsonl');
  if (context.isRoot) {
    mkdirSync(out, { recursive: true });
    if (!flags.resume) rmSync(log, { force: true });
  }
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
  const result = await trainOne(
    context,
    { label: flags.optimizer, optimizer: flags.optimizer, options },
    flags,
    data,
    { checkpointDir: join(out, 'checkpoint'), resume: flags.resume, log },
  );
  const last = result.epochs.at(-1)!;
  context.say(
    `${flags.optimizer}: final train loss ${last.trainLoss.toFixed(5)}, test loss ${last.testLoss.toFixed(5)}` +
      (last.testAccuracy != null ? `, test accuracy ${last.testAccuracy.toFixed(4)}` : '') +
      `; skipped steps ${result.skippedSteps}; log ${log}, checkpoint ${join(out, 'checkpoint')}`,
  );
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
    .option('--resume', 'continue from the checkpoint in the output directory')
    .action(async (flags: TrainFlags, command: Command) =>
      train(context, flags, flagValues(command)),
    );
}
