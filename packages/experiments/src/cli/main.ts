#!/usr/bin/env node
/**
 * The eva-tfjs command line: the paper's experiments, one command each.
 * - `train`: one model, one dataset, one optimizer; progress, per-epoch metrics, JSON log,
 *   checkpoints and `--resume`.
 * - `compare` (the default, what `npm start` runs): several optimizers on the same task and
 *   seed; writes a report (Markdown summary, time to target, SVG plots).
 * - `bench`: per-iteration time and memory of optimizers relative to SGD.
 * - `sweep`: one hyper-parameter over a list of values, reported like `compare`.
 */
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DATASET_NAMES, loadDataset } from '../data/load-dataset.js';
import type { Dataset } from '../data/dataset.js';
import { BACKEND_NAMES, setupBackend } from '../experiments/backend-setup.js';
import { MODEL_NAMES } from '../models/create-model.js';
import { optimizerNames, type RegistryOptions, type DecayKind } from 'eva-tfjs';
import { runTraining, type EpochRecord, type RunResult } from '../experiments/train-run.js';
import { writeReport, type LabelledRun } from '../experiments/report.js';
import { benchmarkData, benchmarkSteps, benchmarkTable } from '../experiments/step-benchmark.js';
import { MpiCommunicator, type Communicator } from 'eva-tfjs/distributed';
import {
  integer,
  klClip,
  learningRates,
  names,
  number,
  optimizerOptions,
  type OptimizerFlags,
} from './options.js';

/** The data-parallel job this process belongs to (unset: a single process). */
let communicator: Communicator | undefined;
/** Whether this process prints and writes (rank 0 of a distributed job, or the only one). */
const isRoot = () => (communicator?.rank ?? 0) === 0;
/** console.log on rank 0 only. */
const say = (text: string) => {
  if (isRoot()) console.log(text);
};

/** Options shared by train, compare and sweep. */
interface RunFlags extends OptimizerFlags {
  distributed?: boolean;
  collectiveTimeout: number;
  model: string;
  data: string;
  dataDir?: string;
  trainLimit?: number;
  testLimit?: number;
  epochs: number;
  batchSize: number;
  schedule: DecayKind;
  warmupEpochs: number;
  backend: string;
  seed: number;
  out?: string;
}

const command = () => ['eva-tfjs', ...process.argv.slice(2)].join(' ');

function addRunOptions(cmd: Command, defaults: { epochs: number; batchSize: number }): Command {
  return cmd
    .addOption(new Option('--model <name>', 'model').choices(MODEL_NAMES).default('autoencoder'))
    .addOption(new Option('--data <name>', 'dataset').choices(DATASET_NAMES).default('mnist'))
    .option('--data-dir <dir>', 'directory of the dataset files (fashion-mnist, cifar10, cifar100)')
    .option('--train-limit <n>', 'use at most n training samples', integer('--train-limit'))
    .option('--test-limit <n>', 'use at most n test samples', integer('--test-limit'))
    .option('--epochs <n>', 'epochs', integer('--epochs'), defaults.epochs)
    .option('--batch-size <n>', 'batch size', integer('--batch-size'), defaults.batchSize)
    .option('--lr <x>', 'learning rate (peak of the schedule)', number('--lr'), 0.1)
    .option(
      '--lr-for <pairs>',
      'per-optimizer learning rates, e.g. sgd=0.5,adagrad=0.01',
      learningRates,
    )
    .option(
      '--momentum <x>',
      'momentum of SGD and of second-order bases (default 0.9)',
      number('--momentum'),
    )
    .option('--nesterov', 'Nesterov momentum')
    .option('--weight-decay <x>', 'weight decay', number('--weight-decay'), 5e-4)
    .option('--damping <x>', 'damping (second-order methods)', number('--damping'))
    .option(
      '--factor-decay <x>',
      'running-average weight of new statistics',
      number('--factor-decay'),
    )
    .option('--kl-clip <x|none>', 'KL clip of Eva and K-FAC (none: off; 0: gradient norm)', klClip)
    .option('--fac-update-freq <n>', 'statistics interval', integer('--fac-update-freq'))
    .option(
      '--inv-update-freq <n>',
      'inverse/root interval (K-FAC, FOOF, Shampoo)',
      integer('--inv-update-freq'),
    )
    .option(
      '--stats-batch-size <n>',
      'samples feeding the statistics',
      integer('--stats-batch-size'),
    )
    .option('--mfac-m <n>', 'M-FAC gradient window', integer('--mfac-m'))
    .option('--block-size <n>', 'Shampoo block size', integer('--block-size'))
    .addOption(
      new Option('--linalg <route>', 'inverse route (K-FAC, FOOF, Shampoo)').choices([
        'host',
        'newton',
      ]),
    )
    .addOption(
      new Option('--schedule <kind>', 'decay after warm-up')
        .choices(['constant', 'linear', 'cosine', 'polynomial', 'step'])
        .default('linear'),
    )
    .option('--warmup-epochs <n>', 'warm-up epochs', number('--warmup-epochs'), 1)
    .addOption(
      new Option('--backend <name>', 'tfjs backend').choices(BACKEND_NAMES).default('wasm'),
    )
    .option('--seed <n>', 'seed of data, initialisation and shuffling', number('--seed'), 0)
    .option('--out <dir>', 'output directory')
    .option('--distributed', 'data-parallel over the ranks of an mpirun job (see README)')
    .option(
      '--collective-timeout <s>',
      'distributed: abort the job when a rank waits longer in one collective',
      number('--collective-timeout'),
      300,
    );
}

async function prepare(flags: RunFlags): Promise<{ data: Dataset; backend: string }> {
  if (flags.distributed) {
    communicator = new MpiCommunicator({ collectiveTimeout: flags.collectiveTimeout });
    process.on('exit', () => communicator?.finalize());
  }
  const backend = await setupBackend(flags.backend);
  const data = loadDataset(flags.data, {
    dataDir: flags.dataDir,
    trainLimit: flags.trainLimit,
    testLimit: flags.testLimit,
    seed: flags.seed,
  });
  return { data, backend };
}

function describe(
  flags: RunFlags,
  data: Dataset,
  backend: string,
): Record<string, string | number> {
  return {
    model: flags.model,
    dataset: `${data.name} (${data.train.count} train / ${data.test.count} test)`,
    backend,
    'batch size': flags.batchSize,
    epochs: flags.epochs,
    schedule: `${flags.warmupEpochs} warm-up epochs, then ${flags.schedule} decay`,
    'weight decay': flags.weightDecay ?? 0,
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

async function trainOne(
  label: string,
  optimizer: string,
  options: RegistryOptions,
  flags: RunFlags,
  data: Dataset,
  extra: { checkpointDir?: string; resume?: boolean; log?: string } = {},
): Promise<RunResult> {
  const progress = progressFor(label, flags, data);
  let started = false;
  const result = await runTraining(data, {
    model: flags.model,
    optimizer,
    optimizerOptions: options,
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    seed: flags.seed,
    warmupEpochs: flags.warmupEpochs,
    decay: flags.schedule,
    checkpointDir: extra.checkpointDir,
    resume: extra.resume,
    communicator,
    onBatch: (epoch, _batch, loss) => {
      if (!isRoot()) return;
      if (!started) {
        started = true;
        progress.start(epoch - 1);
      }
      progress.batch(epoch, loss);
    },
    onEpoch: (record) => {
      if (extra.log != null && isRoot())
        appendFileSync(extra.log, `${JSON.stringify({ run: label, ...record })}\n`);
    },
  });
  if (started) progress.stop();
  if (result.resumedAfter > 0) say(`  ${label}: resumed after epoch ${result.resumedAfter}`);
  for (const e of result.epochs) say(epochLine(label, e));
  return result;
}

async function train(flags: RunFlags & { optimizer: string; resume?: boolean }): Promise<void> {
  const options = optimizerOptions([flags.optimizer], flags).get(flags.optimizer)!;
  const out = flags.out ?? join('reports', `train-${flags.model}-${flags.data}-${flags.optimizer}`);
  const { data, backend } = await prepare(flags);
  const log = join(out, 'log.jsonl');
  if (isRoot()) {
    mkdirSync(out, { recursive: true });
    if (!flags.resume) rmSync(log, { force: true });
  }
  say(
    `${flags.optimizer} on ${flags.model}/${data.name}, ${JSON.stringify(options)}; ` +
      `${Object.entries(describe(flags, data, backend))
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
  );
  const result = await trainOne(flags.optimizer, flags.optimizer, options, flags, data, {
    checkpointDir: join(out, 'checkpoint'),
    resume: flags.resume,
    log,
  });
  const last = result.epochs.at(-1)!;
  say(
    `${flags.optimizer}: final train loss ${last.trainLoss.toFixed(5)}, test loss ${last.testLoss.toFixed(5)}` +
      (last.testAccuracy != null ? `, test accuracy ${last.testAccuracy.toFixed(4)}` : '') +
      `; skipped steps ${result.skippedSteps}; log ${log}, checkpoint ${join(out, 'checkpoint')}`,
  );
}

async function report(
  flags: RunFlags & { target?: number },
  runs: LabelledRun[],
  title: string,
  out: string,
  data: Dataset,
  backend: string,
): Promise<void> {
  if (!isRoot()) return;
  const summary = await writeReport(out, runs, {
    title,
    command: command(),
    details: describe(flags, data, backend),
    target: flags.target,
  });
  console.log(`\n${summary}\nReport written to ${out}`);
}

async function compare(flags: RunFlags & { optimizers: string[]; target?: number }): Promise<void> {
  const perOptimizer = optimizerOptions(flags.optimizers, flags);
  const out = flags.out ?? join('reports', `compare-${flags.model}-${flags.data}`);
  const { data, backend } = await prepare(flags);
  const runs: LabelledRun[] = [];
  for (const [name, options] of perOptimizer) {
    runs.push({ label: name, result: await trainOne(name, name, options, flags, data) });
  }
  await report(
    flags,
    runs,
    `${flags.model} on ${data.name}: ${flags.optimizers.join(' vs ')}`,
    out,
    data,
    backend,
  );
}

/** Sweepable settings: flag name -> how a value is applied. */
const SWEEP_PARAMETERS: Record<string, (flags: RunFlags, value: number) => RunFlags> = {
  lr: (f, v) => ({ ...f, lr: v, lrFor: undefined }),
  'batch-size': (f, v) => ({ ...f, batchSize: v }),
  damping: (f, v) => ({ ...f, damping: v }),
  'factor-decay': (f, v) => ({ ...f, factorDecay: v }),
  'kl-clip': (f, v) => ({ ...f, klClip: v }),
  momentum: (f, v) => ({ ...f, momentum: v }),
  'weight-decay': (f, v) => ({ ...f, weightDecay: v }),
  'inv-update-freq': (f, v) => ({ ...f, invUpdateFreq: v }),
};

async function sweep(
  flags: RunFlags & { optimizer: string; param: string; values: number[]; target?: number },
): Promise<void> {
  const apply = SWEEP_PARAMETERS[flags.param];
  if (apply == null) {
    throw new Error(
      `Unknown sweep parameter '${flags.param}'; valid: ${Object.keys(SWEEP_PARAMETERS).join(', ')}`,
    );
  }
  const variants = flags.values.map((value) => {
    const varied = apply(flags, value);
    if (!Number.isInteger(varied.batchSize) || varied.batchSize < 1) {
      throw new Error(`--values for batch-size must be positive integers, got ${value}`);
    }
    return {
      value,
      flags: varied,
      options: optimizerOptions([flags.optimizer], varied).get(flags.optimizer)!,
    };
  });
  const out =
    flags.out ??
    join('reports', `sweep-${flags.model}-${flags.data}-${flags.optimizer}-${flags.param}`);
  const { data, backend } = await prepare(flags);
  const runs: LabelledRun[] = [];
  for (const v of variants) {
    const label = `${flags.optimizer} ${flags.param}=${v.value}`;
    runs.push({ label, result: await trainOne(label, flags.optimizer, v.options, v.flags, data) });
  }
  await report(
    flags,
    runs,
    `${flags.model} on ${data.name}: ${flags.optimizer}, ${flags.param} sweep`,
    out,
    data,
    backend,
  );
}

interface BenchFlags {
  model: string;
  optimizers: string[];
  batchSize: number;
  steps: number;
  backend: string;
  mfacM: number;
  out?: string;
}

async function bench(flags: BenchFlags): Promise<void> {
  const backend = await setupBackend(flags.backend);
  const data = benchmarkData(flags.model);
  const rows = await benchmarkSteps({
    model: flags.model,
    data,
    batchSize: flags.batchSize,
    steps: flags.steps,
    labels: flags.optimizers,
    mfacWindow: flags.mfacM,
    onProgress: (cycle, cycles) => process.stderr.write(`cycle ${cycle}/${cycles}\r`),
  });
  const text = [
    `# Per-iteration time and memory relative to SGD`,
    '',
    '```sh',
    command(),
    '```',
    '',
    `${flags.model} on ${data.name}-shaped random data, backend ${backend}, batch ${flags.batchSize}, ` +
      `up to ${flags.steps} timed steps per optimizer (alternating, after 2 warm-up steps), ` +
      `M-FAC window ${flags.mfacM}; \`name@N\` = inverse interval N.`,
    '',
    benchmarkTable(rows),
    '',
  ].join('\n');
  console.log(`\n${text}`);
  if (flags.out != null) {
    mkdirSync(flags.out, { recursive: true });
    appendFileSync(join(flags.out, 'bench.md'), `${text}\n`);
    console.log(`Appended to ${join(flags.out, 'bench.md')}`);
  }
}

const program = new Command()
  .name('eva-tfjs')
  .description('Second-order optimizers for TensorFlow.js: the experiments of the Eva paper')
  .showHelpAfterError();

addRunOptions(
  program.command('train').description('train one model on one dataset with one optimizer'),
  { epochs: 10, batchSize: 1000 },
)
  .addOption(new Option('--optimizer <name>', 'optimizer').choices(optimizerNames()).default('eva'))
  .option('--resume', 'continue from the checkpoint in the output directory')
  .action(async (flags) => train(flags as RunFlags & { optimizer: string; resume?: boolean }));

addRunOptions(
  program
    .command('compare', { isDefault: true })
    .description('train several optimizers on the same task and seed; write a report'),
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
  .action(async (flags) => compare(flags as RunFlags & { optimizers: string[]; target?: number }));

addRunOptions(
  program.command('sweep').description('one hyper-parameter over a list of values; write a report'),
  { epochs: 10, batchSize: 1000 },
)
  .addOption(new Option('--optimizer <name>', 'optimizer').choices(optimizerNames()).default('eva'))
  .addOption(
    new Option('--param <name>', 'the swept setting')
      .choices(Object.keys(SWEEP_PARAMETERS))
      .makeOptionMandatory(),
  )
  .requiredOption('--values <list>', 'comma-separated values', (v: string) =>
    names(v).map(number('--values')),
  )
  .option('--target <x>', 'target test loss (accuracy for classifiers)', number('--target'))
  .action(async (flags) =>
    sweep(
      flags as RunFlags & { optimizer: string; param: string; values: number[]; target?: number },
    ),
  );

program
  .command('bench')
  .description('per-iteration time and memory of optimizers relative to SGD')
  .addOption(new Option('--model <name>', 'model').choices(MODEL_NAMES).default('autoencoder'))
  .option('--optimizers <names>', 'registry names, name@N for inverse interval N', names, [
    ...optimizerNames(),
    'kfac@10',
    'kfac@50',
    'shampoo@10',
  ])
  .option('--batch-size <n>', 'batch size', integer('--batch-size'), 250)
  .option('--steps <n>', 'timed steps per optimizer', integer('--steps'), 20)
  .option('--mfac-m <n>', 'M-FAC window', integer('--mfac-m'), 32)
  .addOption(new Option('--backend <name>', 'tfjs backend').choices(BACKEND_NAMES).default('wasm'))
  .option('--out <dir>', 'append the table to <dir>/bench.md')
  .action(async (flags) => bench(flags as BenchFlags));

program.parseAsync().catch((e: unknown) => {
  const rank = communicator != null ? ` (rank ${communicator.rank})` : '';
  console.error(`eva-tfjs${rank}: ${e instanceof Error ? e.message : String(e)}`);
  if (process.env.EVA_DEBUG) console.error(e);
  // In a distributed job the other ranks would wait forever: end them all.
  if (communicator != null && communicator.size > 1) communicator.abort(1);
  process.exit(1);
});
