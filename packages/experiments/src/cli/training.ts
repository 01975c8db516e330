/**
 * Running the training commands: backend and data, the checks that need them, one run with a
 * progress bar and per-epoch lines, the run details of reports, and the report of several runs.
 */
import cliProgress from 'cli-progress';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RegistryOptions } from 'eva-tfjs';
import type { Dataset } from '../data/dataset.js';
import { loadDataset } from '../data/load-dataset.js';
import { setupBackend } from '../experiments/backend-setup.js';
import { hasCheckpoint, writeFileAtomic } from '../experiments/checkpoint.js';
import { verdicts, writeReport, type LabelledRun } from '../experiments/report.js';
import {
  checkRun,
  runSettings,
  runTraining,
  RunDiverged,
  type EpochRecord,
  type RunConfig,
  type RunResult,
} from '../experiments/train-run.js';
import { divergedFile, loadDiverged, saveDiverged } from './diverged-runs.js';
import type { CliContext } from './context.js';
import type { Command } from 'commander';
import { checkOutputFree, holdOutput } from './output.js';
import { number } from './parsers.js';
import type { ResolvedRunFlags } from './run-flags.js';

/** One run of a command: its label, the registry optimizer and its options. */
export interface RunSpec {
  label: string;
  optimizer: string;
  options: RegistryOptions;
}

/** Joins the job (`--distributed`), sets up the backend and loads the data. */
export async function prepare(
  context: CliContext,
  flags: ResolvedRunFlags,
): Promise<{ data: Dataset; backend: string }> {
  if (flags.distributed) context.joinJob({ collectiveTimeout: flags.collectiveTimeout });
  if (flags.note != null) context.say(`Note: ${flags.note}`);
  const backend = await setupBackend(flags.backend);
  const data = loadDataset(flags.data, {
    dataDir: flags.dataDir,
    trainLimit: flags.trainLimit,
    testLimit: flags.testLimit,
    seed: flags.seed,
  });
  return { data, backend };
}

/** The settings of a run, for its first line and reports. */
export function describe(
  context: CliContext,
  flags: ResolvedRunFlags,
  setup: { data: Dataset; backend: string; weightDecay: unknown },
): Record<string, string | number> {
  const { data, backend } = setup;
  const communicator = context.communicator;
  return {
    model: flags.model,
    dataset: `${data.name} (${data.train.count} train / ${data.test.count} test)`,
    backend,
    'batch size': flags.batchSize,
    epochs: flags.epochs,
    schedule: `${flags.warmupEpochs} warm-up epochs, then ${flags.schedule} decay`,
    'weight decay': typeof setup.weightDecay === 'number' ? setup.weightDecay : 0,
    ...(communicator != null
      ? { 'data-parallel ranks': `${communicator.size} (global batch ${flags.batchSize})` }
      : {}),
    seed: flags.seed,
    date: new Date().toISOString(),
    ...(flags.note != null ? { note: flags.note } : {}),
  };
}

function progressFor(label: string, flags: ResolvedRunFlags, data: Dataset) {
  const stepsPerEpoch = Math.ceil(data.train.count / flags.batchSize);
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(8)} epoch {epoch}/${flags.epochs} [{bar}] {value}/{total} steps | loss {loss} | {rate} steps/s`,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
    },
    cliProgress.Presets.shades_classic,
  );
  const start = performance.now();
  let steps = 0;
  return {
    start(done: number) {
      steps = done * stepsPerEpoch;
      bar.start(flags.epochs * stepsPerEpoch, steps, { epoch: done + 1, loss: '-', rate: '-' });
    },
    batch(epoch: number, loss: number) {
      steps += 1;
      const rate = steps / ((performance.now() - start) / 1000);
      bar.update(steps, { epoch, loss: loss.toFixed(4), rate: rate.toFixed(2) });
    },
    stop: () => bar.stop(),
  };
}

/** A metric with `digits` decimals; `n/a` when absent (no test samples). */
export function metric(value: number | null | undefined, digits: number): string {
  return value == null ? 'n/a' : value.toFixed(digits);
}

function epochLine(label: string, e: EpochRecord): string {
  const acc =
    e.trainAccuracy != null
      ? `  train acc ${metric(e.trainAccuracy, 4)}  test acc ${metric(e.testAccuracy, 4)}`
      : '';
  const skipped = e.skippedSteps ? `  skipped steps ${e.skippedSteps}` : '';
  const scale = e.scale
    ? `  scale mean ${e.scale.mean.toPrecision(3)} (below 1 at ${(100 * e.scale.belowOne).toFixed(0)}% of steps)`
    : '';
  return (
    `  ${label} epoch ${String(e.epoch).padStart(3)}  train loss ${e.trainLoss.toFixed(5)}  ` +
    `test loss ${metric(e.testLoss, 5)}${acc}${skipped}${scale}  ${e.seconds.toFixed(1)} s` +
    (e.cpuSeconds === undefined ? '' : ` (CPU ${e.cpuSeconds.toFixed(1)} s)`)
  );
}

/** The configuration of `run` with `flags` (callbacks and checkpoints apart). */
function runConfig(context: CliContext, run: RunSpec, flags: ResolvedRunFlags): RunConfig {
  return {
    model: flags.model,
    optimizer: run.optimizer,
    optimizerOptions: run.options,
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    seed: flags.seed,
    warmupEpochs: flags.warmupEpochs,
    decay: flags.schedule,
    communicator: context.communicator,
  };
}

/**
 * Checks every run against the data before the first one trains (batch sizes against the
 * samples and ranks, each optimizer built once on the model): a mistake in the last run of a
 * sweep is reported before the first starts. Errors name the run.
 */
export function checkRuns(
  context: CliContext,
  runs: ReadonlyArray<{ run: RunSpec; flags: ResolvedRunFlags }>,
  data: Dataset,
): void {
  for (const { run, flags } of runs) {
    try {
      checkRun(data, runConfig(context, run, flags));
    } catch (e) {
      const message = (e as Error).message.replace(/^runTraining: /, '');
      throw new Error(runs.length > 1 ? `${run.label}: ${message}` : message, { cause: e });
    }
  }
}

/** One run of the registry optimizer `run.optimizer`, labelled: progress, then its epochs. */
export async function trainOne(
  context: CliContext,
  run: RunSpec,
  flags: ResolvedRunFlags,
  data: Dataset,
  extra: Pick<RunConfig, 'checkpointDir' | 'resume' | 'onCheckpoint'> = {},
): Promise<RunResult> {
  const { label } = run;
  const progress = progressFor(label, flags, data);
  let started = false;
  // Stopped on failures and interrupts too: cli-progress hides the terminal's cursor.
  const stop = () => {
    if (!started) return;
    started = false;
    progress.stop();
  };
  const forget = context.atEarlyExit(stop);
  // Without a terminal the bar prints a line every 10 s; each epoch's line goes out as it ends
  // (in a terminal, after the run, below its bar).
  const live = context.isRoot && process.stdout.isTTY !== true;
  const printed = new Set<number>();
  let result: RunResult;
  try {
    result = await runTraining(data, {
      ...runConfig(context, run, flags),
      ...extra,
      onEpoch: live
        ? (record) => {
            context.say(epochLine(label, record));
            printed.add(record.epoch);
          }
        : undefined,
      onBatch: (epoch, _batch, loss) => {
        if (!context.isRoot) return;
        if (!started) {
          started = true;
          progress.start(epoch - 1);
        }
        progress.batch(epoch, loss);
      },
    });
  } catch (e) {
    throw new Error(`${label}: ${(e as Error).message}`, { cause: e });
  } finally {
    stop();
    forget();
  }
  if (result.resumedAfter > 0 && result.resumedAfter === flags.epochs)
    context.say(`  ${label}: finished earlier: taken from its checkpoint`);
  else if (result.resumedAfter > 0)
    context.say(`  ${label}: resumed after epoch ${result.resumedAfter}`);
  for (const e of result.epochs) if (!printed.has(e.epoch)) context.say(epochLine(label, e));
  return result;
}

/** Writes the report of `runs` to `out` and prints its table and verdicts (rank 0). */
export async function report(
  context: CliContext,
  runs: LabelledRun[],
  options: {
    title: string;
    out: string;
    details: Record<string, string | number>;
    target?: number;
  },
): Promise<void> {
  if (!context.isRoot) return;
  const summary = await writeReport(options.out, runs, {
    title: options.title,
    command: context.commandLine,
    details: options.details,
    target: options.target,
  });
  const table = summary.split('\n').filter((line) => line.startsWith('|'));
  console.log(
    `\n${table.join('\n')}\n\nReport written to ${options.out} (summary.md: settings, table, plots)`,
  );
  const verdict = verdicts(runs);
  if (verdict.length > 0) console.log(`\n${verdict.join('\n')}`);
}

/** `log.jsonl`: one JSON line per epoch record, labelled with the run. */
export function logText(label: string, epochs: readonly EpochRecord[]): string {
  return epochs.map((record) => `${JSON.stringify({ run: label, ...record })}\n`).join('');
}

/**
 * Where one run of a several-run command (compare, sweep) keeps its checkpoint and log:
 * `<out>/runs/<label>`, the label made safe as a directory name.
 */
export function runDirectory(out: string, label: string): string {
  return join(out, 'runs', label.replace(/[^A-Za-z0-9._=@+-]+/g, '_'));
}

/** The help text of compare's and sweep's `--resume`. */
export const RESUME_DESCRIPTION =
  'continue: runs that finished are taken from their checkpoints under <out>/runs, an ' +
  'interrupted one continues from its last epoch (an error when no run has a checkpoint)';

/**
 * Throws unless at least one of the planned runs of a `--resume`d compare or sweep has a
 * checkpoint to resume from.
 */
export function checkAnyResumable(out: string, labels: readonly string[]): void {
  const resumable = (dir: string) =>
    hasCheckpoint(join(dir, 'checkpoint')) || existsSync(divergedFile(dir));
  if (labels.some((label) => resumable(runDirectory(out, label)))) return;
  throw new Error(
    `--resume: nothing to resume from: no run of ${out} has a checkpoint ` +
      `(looked in ${join(out, 'runs')}); run without --resume to start afresh`,
  );
}

/**
 * Trains each planned run in turn on `data` and writes their report to `report.out`, holding the
 * output directory for the whole time (compare, sweep). Each run checkpoints after every epoch
 * into {@link runDirectory} and keeps its `log.jsonl` there; with `resume`, runs that finished
 * are taken from their checkpoints without training, an interrupted one continues from its last
 * epoch and runs without a checkpoint start afresh.
 */
export async function trainAndReport(
  context: CliContext,
  planned: ReadonlyArray<{ run: RunSpec; flags: ResolvedRunFlags }>,
  data: Dataset,
  options: Parameters<typeof report>[2] & { resume?: boolean },
): Promise<void> {
  const { resume, ...reportOptions } = options;
  const directories = planned.map(({ run }) => runDirectory(options.out, run.label));
  const output = holdOutput(
    context,
    options.out,
    directories.map((dir) => join(dir, 'checkpoint')),
  );
  try {
    const runs: LabelledRun[] = [];
    for (const [i, { run, flags }] of planned.entries()) {
      const dir = directories[i]!;
      const checkpointDir = join(dir, 'checkpoint');
      const log = join(dir, 'log.jsonl');
      const earlier = resume
        ? loadDiverged(dir, runSettings(data, runConfig(context, run, flags)))
        : null;
      if (earlier != null) {
        context.say(
          `  ${run.label}: diverged earlier (${divergedFile(dir)}): ${earlier.diverged!.reason}`,
        );
        runs.push({ label: run.label, result: earlier });
        continue;
      }
      let result: RunResult;
      try {
        result = await trainOne(context, run, flags, data, {
          checkpointDir,
          resume: resume === true && hasCheckpoint(checkpointDir),
          onCheckpoint: (epochs) => writeFileAtomic(log, logText(run.label, epochs)),
        });
      } catch (e) {
        // A diverged run is a result of the sweep (kept in the report), not its end.
        const diverged = (e as Error).cause;
        if (!(diverged instanceof RunDiverged)) throw e;
        if (context.isRoot) saveDiverged(dir, diverged);
        for (const epoch of diverged.result.epochs) context.say(epochLine(run.label, epoch));
        context.say(`  ${run.label}: ${diverged.message}; kept in the report as diverged`);
        result = diverged.result;
      }
      runs.push({ label: run.label, result });
    }
    await report(context, runs, reportOptions);
  } finally {
    output.release();
  }
}

/** The flags of the commands that train several runs into one report (compare, sweep). */
export interface ReportingFlags {
  /** Target test loss (accuracy for classifiers) for time-to-target. */
  target?: number;
  /** Continue from the runs' checkpoints. */
  resume?: boolean;
}

/** Adds `--target` and `--resume` ({@link ReportingFlags}) to `command`. */
export function addReportingFlags(command: Command): Command {
  return command
    .option(
      '--target <x>',
      'target test loss (accuracy for classifiers) for time-to-target',
      number('--target'),
    )
    .option('--resume', RESUME_DESCRIPTION);
}

/**
 * The common end of compare and sweep: checks the output directory (and, with `--resume`, that a
 * run has a checkpoint), loads the data, checks every planned run against it, then trains and
 * writes the report titled `title(dataset name)` to `out`.
 */
export async function runPlanned(
  context: CliContext,
  flags: ResolvedRunFlags & ReportingFlags,
  planned: ReadonlyArray<{ run: RunSpec; flags: ResolvedRunFlags }>,
  report: { out: string; title: (dataset: string) => string; weightDecay: unknown },
): Promise<void> {
  checkOutputFree(report.out);
  if (flags.resume)
    checkAnyResumable(
      report.out,
      planned.map(({ run }) => run.label),
    );
  const { data, backend } = await prepare(context, flags);
  checkRuns(context, planned, data);
  await trainAndReport(context, planned, data, {
    title: report.title(data.name),
    out: report.out,
    details: describe(context, flags, { data, backend, weightDecay: report.weightDecay }),
    target: flags.target,
    resume: flags.resume,
  });
}
