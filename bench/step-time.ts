/**
 * Benchmark (not a test): per-iteration time and memory of every optimizer relative to SGD on
 * the paper's autoencoder (or another model of the experiments), measured alternately in one
 * process on each backend; see src/experiments/step-benchmark.ts for what is measured.
 *
 *   npx tsx bench/step-time.ts [--model autoencoder] [--batch 250] [--steps 20]
 *       [--backends wasm] [--optimizers sgd,eva,kfac,kfac@10,...] [--mfac-m 32]
 */
import { parseArgs } from 'node:util';
import { optimizerNames } from 'eva-tfjs';
import { setupBackend, benchmarkData, benchmarkSteps, benchmarkTable } from '@eva-tfjs/experiments';

const DEFAULT_OPTIMIZERS = [...optimizerNames(), 'kfac@10', 'kfac@50', 'foof@10', 'shampoo@10'];

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'autoencoder' },
    batch: { type: 'string', default: '250' },
    steps: { type: 'string', default: '20' },
    backends: { type: 'string', default: 'wasm' },
    optimizers: { type: 'string', default: DEFAULT_OPTIMIZERS.join(',') },
    'mfac-m': { type: 'string', default: '32' },
  },
});

const model = values.model!;
const data = benchmarkData(model);
console.log(
  `${model} on ${data.name}-shaped random data, batch ${values.batch}, up to ${values.steps} timed ` +
    `steps per optimizer after 2 warm-up steps, alternating; mfac m = ${values['mfac-m']}`,
);
for (const backend of values.backends!.split(',')) {
  await setupBackend(backend);
  const rows = await benchmarkSteps({
    model,
    data,
    batchSize: Number(values.batch),
    steps: Number(values.steps),
    labels: values.optimizers!.split(','),
    mfacWindow: Number(values['mfac-m']),
    onProgress: (cycle, cycles) => process.stderr.write(`${backend}: cycle ${cycle}/${cycles}\r`),
  });
  console.log(`\nbackend ${backend}\n\n${benchmarkTable(rows)}`);
}
