/** `eva-tfjs bench`: per-iteration time and memory of optimizers relative to SGD. */
import { Command, Option } from 'commander';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { optimizerNames } from 'eva-tfjs';
import { BACKEND_NAMES, checkNodeBackend, setupBackend } from '../../experiments/backend-setup.js';
import {
  benchmarkData,
  benchmarkSteps,
  benchmarkTable,
  parseBenchmarkLabel,
} from '../../experiments/step-benchmark.js';
import { MODEL_NAMES } from '../../models/create-model.js';
import type { CliContext } from '../context.js';
import { holdOutput } from '../output.js';
import { integer, names } from '../parsers.js';
import { checkList } from '../validation.js';

/** The flags of `bench`. */
export interface BenchFlags {
  model: string;
  optimizers: string[];
  batchSize: number;
  steps: number;
  backend: string;
  mfacM: number;
  out?: string;
}

/** Throws unless every label is `name[@N][+option...]` of a registry name. */
function checkLabels(labels: readonly string[]): void {
  checkList('--optimizers', labels);
  for (const label of labels) {
    try {
      parseBenchmarkLabel(label);
    } catch (error) {
      throw new Error(`--optimizers: ${(error as Error).message}`, { cause: error });
    }
  }
}

/**
 * Times the optimizers and prints (and appends to `<out>/bench.md`, holding its lock for the
 * whole benchmark) the table.
 */
export async function bench(context: CliContext, flags: BenchFlags): Promise<void> {
  checkLabels(flags.optimizers);
  checkNodeBackend(flags.backend);
  const output = flags.out != null ? holdOutput(context, flags.out) : null;
  try {
    await benchmark(context, flags);
  } finally {
    output?.release();
  }
}

async function benchmark(context: CliContext, flags: BenchFlags): Promise<void> {
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
    context.commandLine,
    '```',
    '',
    `${flags.model} on ${data.name}-shaped random data, backend ${backend}, batch ${flags.batchSize}, ` +
      `up to ${flags.steps} timed steps per optimizer (alternating, after 2 warm-up steps), ` +
      `M-FAC window ${flags.mfacM}; \`name@N\` = inverse interval N, \`+option\` a boolean option on.`,
    '',
    benchmarkTable(rows),
    '',
  ].join('\n');
  console.log(`\n${text}`);
  if (flags.out != null) {
    appendFileSync(join(flags.out, 'bench.md'), `${text}\n`);
    console.log(`Appended to ${join(flags.out, 'bench.md')}`);
  }
}

/** The `bench` command. */
export function benchCommand(context: CliContext): Command {
  return new Command('bench')
    .description('per-iteration time and memory of optimizers relative to SGD')
    .addOption(new Option('--model <name>', 'model').choices(MODEL_NAMES).default('autoencoder'))
    .option(
      '--optimizers <names>',
      'registry names, name@N for inverse interval N, +option for a boolean option (shampoo@10+rootWorker)',
      names,
      [...optimizerNames(), 'kfac@10', 'kfac@50', 'shampoo@10'],
    )
    .option('--batch-size <n>', 'batch size', integer('--batch-size'), 250)
    .option('--steps <n>', 'timed steps per optimizer', integer('--steps'), 20)
    .option('--mfac-m <n>', 'M-FAC window', integer('--mfac-m'), 32)
    .addOption(
      new Option('--backend <name>', 'tfjs backend (webgl, webgpu: in browsers only)')
        .choices(BACKEND_NAMES)
        .default('wasm'),
    )
    .option('--out <dir>', 'append the table to <dir>/bench.md')
    .action(async (flags: BenchFlags) => bench(context, flags));
}
