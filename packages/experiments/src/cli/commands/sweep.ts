/**
 * `eva-tfjs sweep`: one setting over a list of values, reported like `compare`. The sweepable
 * settings are the learning rate, the batch size and every numeric option of the optimizer
 * (named by its flag, e.g. `--param kl-clip --values 0.001,none`), each value parsed like the
 * flag.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { join } from 'node:path';
import { optimizerEntry, optimizerNames } from 'eva-tfjs';
import type { CliContext } from '../context.js';
import {
  flagValues,
  formatValue,
  optimizerFlagsOf,
  optimizerOptions,
  valueOf,
  type FlagValues,
  type OptimizerFlag,
} from '../optimizer-flags.js';
import { integer, names, number } from '../parsers.js';
import { addRunFlags, type ResolvedRunFlags, type RunFlags } from '../run-flags.js';
import { addReportingFlags, runPlanned, type ReportingFlags } from '../training.js';
import { checkList, checkOptimizerOptions, resolveRunFlags } from '../validation.js';

/** The flags of `sweep` (the optimizer flags apart: see optimizer-flags.ts). */
export interface SweepFlags extends RunFlags, ReportingFlags {
  optimizer: string;
  param: string;
  /** The values as typed (parsed by the parameter). */
  values: string[];
}

/** The settings one sweep run varies. */
export interface SweepRun {
  flags: ResolvedRunFlags;
  values: FlagValues;
}

/** A sweepable setting. */
export interface SweepParameter {
  /** `lr`, `batch-size`, or an optimizer flag without `--` (`kl-clip`). */
  readonly name: string;
  /** Parses one value (as the flag does). */
  parse(value: string): unknown;
  /** `run` with the setting at `value`. */
  vary(run: SweepRun, value: unknown): SweepRun;
}

/** Parses `true` or `false` (a swept boolean flag's values). */
function booleanValue(flag: string): (value: string) => boolean {
  return (value) => {
    if (value === 'true' || value === 'false') return value === 'true';
    throw new InvalidArgumentError(`${flag} values must be true or false, got '${value}'`);
  };
}

/**
 * The settings a sweep of `optimizer` can vary: the learning rate and batch size, then every
 * numeric, boolean or choice optimizer flag in `flags` that `optimizer` takes.
 */
export function sweepParameters(
  optimizer: string,
  flags: readonly OptimizerFlag[],
): SweepParameter[] {
  const name = optimizerEntry(optimizer).name;
  const swept = flags.filter(
    (f) =>
      (f.kind === 'number' || f.kind === 'boolean' || f.kind === 'choice') && f.specs.has(name),
  );
  return [
    {
      name: 'lr',
      parse: number('--lr'),
      vary: (run, value) => ({
        ...run,
        flags: { ...run.flags, lr: value as number, lrFor: undefined },
      }),
    },
    {
      name: 'batch-size',
      parse: integer('--batch-size'),
      vary: (run, value) => ({ ...run, flags: { ...run.flags, batchSize: value as number } }),
    },
    ...swept.map((flag): SweepParameter => ({
      name: flag.name,
      parse: flag.kind === 'boolean' ? booleanValue(flag.flag) : flag.parse,
      vary: (run, value) => ({
        ...run,
        values: new Map(run.values).set(flag, { value, fromDefault: false }),
      }),
    })),
  ];
}

/**
 * Trains `flags.optimizer` once per value of `flags.param` and writes the report. Every value
 * is checked (parsed, then its run's options validated, then built against the data) before
 * the first run trains.
 */
export async function sweep(
  context: CliContext,
  given: SweepFlags,
  optimizerFlags: readonly OptimizerFlag[],
  values: FlagValues,
): Promise<void> {
  const flags = resolveRunFlags(given);
  const parameters = sweepParameters(flags.optimizer, optimizerFlags);
  const parameter = parameters.find((p) => p.name === flags.param);
  if (parameter == null) {
    throw new Error(
      `Unknown sweep parameter '${flags.param}' for ${flags.optimizer}; valid: ` +
        parameters.map((p) => p.name).join(', '),
    );
  }
  checkList('--values', flags.values, 'values');
  const variants = flags.values.map((text) => {
    const where = `--values ${parameter.name}=${text}`;
    let value: unknown;
    try {
      value = parameter.parse(text);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
    }
    const run = parameter.vary({ flags, values }, value);
    let options;
    try {
      run.flags = resolveRunFlags(run.flags);
      options = optimizerOptions([flags.optimizer], {
        lr: run.flags.lr,
        lrFor: run.flags.lrFor,
        flags: run.values,
      }).get(flags.optimizer)!;
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
    }
    checkOptimizerOptions(flags.optimizer, options, where);
    const shown = formatValue(value);
    const label = `${flags.optimizer} ${parameter.name}=${shown}`;
    return { run: { label, optimizer: flags.optimizer, options }, flags: run.flags, shown };
  });
  checkList(
    '--values',
    variants.map((v) => v.shown),
    'values',
  );
  const out =
    flags.out ??
    join('reports', `sweep-${flags.model}-${flags.data}-${flags.optimizer}-${flags.param}`);
  await runPlanned(context, flags, variants, {
    out,
    title: (dataset) => `${flags.model} on ${dataset}: ${flags.optimizer}, ${flags.param} sweep`,
    weightDecay: valueOf(values, 'weightDecay'),
  });
}

/** The `sweep` command (its optimizer flags are added by the program). */
export function sweepCommand(context: CliContext): Command {
  return addReportingFlags(
    addRunFlags(
      new Command('sweep').description('one setting over a list of values; write a report'),
      { epochs: 10, batchSize: 1000 },
    ),
  )
    .addOption(
      new Option('--optimizer <name>', 'optimizer').choices(optimizerNames()).default('eva'),
    )
    .requiredOption(
      '--param <name>',
      'the swept setting: lr, batch-size, or a numeric option of the optimizer by its flag ' +
        '(e.g. damping, kl-clip, inv-update-freq; booleans and choices too: inverse-worker)',
    )
    .requiredOption(
      '--values <list>',
      "comma-separated values, parsed like the flag ('none' turns off an option that allows it)",
      names,
    )
    .action(async (flags: SweepFlags, command: Command) =>
      sweep(context, flags, optimizerFlagsOf(command), flagValues(command)),
    );
}
