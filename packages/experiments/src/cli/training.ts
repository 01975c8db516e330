/**
 * Running the training commands: backend and data, one run with a progress bar and per-epoch
 * lines, the run details of reports, and the report of several runs.
 */
import cliProgress from 'cli-progress';
import { appendFileSync } from 'node:fs';
import type { RegistryOptions } from 'eva-tfjs';
import type { Dataset } from '../data/dataset.js';
import { loadDataset } from '../data/load-dataset.js';
import { setupBackend } from '../experiments/backend-setup.js';
import { writeReport, type LabelledRun } from '../experiments/report.js';
import { runTraining, type EpochRecord, type RunResult } from '../experiments/train-run.js';
import type { CliContext } from './context.js';
import type { RunFlags } from './run-flags.js';

/** Joins the job (`--distributed`), sets up the backend and loads the data. */
export async function prepare(
  context: CliContext,
  flags: RunFlags,
): Promise<{ data: Dataset; backend: string }> {
  if (flags.distributed) context.joinJob({ collectiveTimeout: flags.collectiveTimeout });
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
  flags: RunFlags,
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
  };
}

function progressFor(label: string, flags: RunFlags, data: Dataset) {
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

function epochLine(label: string, e: EpochRecord): string {
  const acc =
    e.testAccuracy != null
      ? `  train acc ${e.trainAccuracy?.toFixed(4)}  test acc ${e.testAccuracy.toFixed(4)}`
      : '';
  return (
    `  ${label} epoch ${String(e.epoch).padStart(3)}  train loss ${e.trainLoss.toFixed(5)}  ` +
    `test loss ${e.testLoss.toFixed(5)}${acc}  ${e.seconds.toFixed(1)} s`
  );
}

/** One run of the registry optimizer `optimizer`, labelled `label`: progress, then its epochs. */
export async function trainOne(
  context: CliContext,
  run: { label: string; optimizer: string; options: RegistryOptions },
  flags: RunFlags,
  data: Dataset,
  extra: { checkpointDir?: string; resume?: boolean; log?: string } = {},
): Promise<RunResult> {
  const { label } = run;
  const progress = progressFor(label, flags, data);
  let started = false;
  const result = await runTraining(data, {
    model: flags.model,
    optimizer: run.optimizer,
    optimizerOptions: run.options,
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    seed: flags.seed,
    warmupEpochs: flags.warmupEpochs,
    decay: flags.schedule,
    checkpointDir: extra.checkpointDir,
    resume: extra.resume,
    communicator: context.communicator,
    onBatch: (epoch, _batch, loss) => {
      if (!context.isRoot) return;
      if (!started) {
        started = true;
        progress.start(epoch - 1);
      }
      progress.batch(epoch, loss);
    },
    onEpoch: (record) => {
      if (extra.log != null && context.isRoot)
        appendFileSync(extra.log, `${JSON.stringify({ run: label, ...record })}\n`);
    },
  });
  if (started) progress.stop();
  if (result.resumedAfter > 0)
    context.say(`  ${label}: resumed after epoch ${result.resumedAfter}`);
  for (const e of result.epochs) context.say(epochLine(label, e));
  return result;
}

/** Writes the report of `runs` to `out` and prints its summary (rank 0). */
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
  console.log(`\n${summary}\nReport written to ${options.out}`);
}
