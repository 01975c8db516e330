/**
 * The flags train, compare and sweep share: task, data, schedule, backend, output and
 * distribution (the optimizer flags are derived from the registry: see optimizer-flags.ts).
 */
import { Option, type Command } from 'commander';
import type { DecayKind } from 'eva-tfjs';
import { DATASET_NAMES } from '../data/load-dataset.js';
import { BACKEND_NAMES } from '../experiments/backend-setup.js';
import { MODEL_NAMES } from '../models/create-model.js';
import { count, integer, learningRates, number } from './parsers.js';

/** The values of the shared flags. */
export interface RunFlags {
  model: string;
  data: string;
  dataDir?: string;
  trainLimit?: number;
  testLimit?: number;
  epochs: number;
  batchSize: number;
  /** Learning rate (peak of the schedule). */
  lr: number;
  /** Per-optimizer learning rates. */
  lrFor?: Record<string, number>;
  schedule: DecayKind;
  /** Warm-up epochs (unset: 1, or 0 for a 1-epoch run; see resolveRunFlags). */
  warmupEpochs?: number;
  backend: string;
  seed: number;
  out?: string;
  distributed?: boolean;
  collectiveTimeout: number;
  /** Why the settings are what they are, printed first and shown in reports. */
  note?: string;
}

/** {@link RunFlags} once checked, the warm-up settled. */
export interface ResolvedRunFlags extends RunFlags {
  warmupEpochs: number;
}

/** Adds the shared flags to `command`. */
export function addRunFlags(
  command: Command,
  defaults: { epochs: number; batchSize: number },
): Command {
  return command
    .addOption(new Option('--model <name>', 'model').choices(MODEL_NAMES).default('autoencoder'))
    .addOption(new Option('--data <name>', 'dataset').choices(DATASET_NAMES).default('mnist'))
    .option('--data-dir <dir>', 'directory of the dataset files (fashion-mnist, cifar10, cifar100)')
    .option('--train-limit <n>', 'use at most n training samples', integer('--train-limit'))
    .option(
      '--test-limit <n>',
      'use at most n test samples (0: no test metrics)',
      count('--test-limit'),
    )
    .option('--epochs <n>', 'epochs', integer('--epochs'), defaults.epochs)
    .option('--batch-size <n>', 'batch size', integer('--batch-size'), defaults.batchSize)
    .option('--lr <x>', 'learning rate (peak of the schedule)', number('--lr'), 0.1)
    .option(
      '--lr-for <pairs>',
      'per-optimizer learning rates, e.g. sgd=0.5,adagrad=0.01',
      learningRates,
    )
    .addOption(
      new Option('--schedule <kind>', 'decay after warm-up')
        .choices(['constant', 'linear', 'cosine', 'polynomial', 'step'])
        .default('linear'),
    )
    .option(
      '--warmup-epochs <n>',
      'warm-up epochs, fewer than --epochs (default: 1, or 0 with --epochs 1)',
      number('--warmup-epochs'),
    )
    .addOption(
      new Option('--backend <name>', 'tfjs backend (webgl, webgpu: in browsers only)')
        .choices(BACKEND_NAMES)
        .default('wasm'),
    )
    .option('--seed <n>', 'seed of data, initialisation and shuffling', number('--seed'), 0)
    .option('--out <dir>', 'output directory')
    .option(
      '--note <text>',
      'a note printed first and kept in the report (e.g. where an lr comes from)',
    )
    .option('--distributed', 'data-parallel over the ranks of an mpirun job (see README)')
    .option(
      '--collective-timeout <s>',
      'distributed: abort the job when a rank waits longer in one collective',
      number('--collective-timeout'),
      300,
    );
}
