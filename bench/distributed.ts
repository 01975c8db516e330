/**
 * Benchmark (not a test): data-parallel step time of the autoencoder with a fixed global batch
 * on 1 and 2 ranks (mpirun, this machine), for SGD and Eva, with the share of each step spent
 * in communication (the fused allreduce, including the host reads it needs) and the volume
 * communicated (Eva's extra floats relative to the gradients).
 *
 *   node --conditions=eva-tfjs-source --import tsx bench/distributed.ts [--batch 500] [--steps 10] [--ranks 1,2]
 * (a rank process is this script with --worker, started by mpirun)
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '500' },
    steps: { type: 'string', default: '10' },
    ranks: { type: 'string', default: '1,2' },
    worker: { type: 'boolean', default: false },
  },
});

if (values.worker) {
  const tf = await import('@tensorflow/tfjs');
  const { setupBackend } = await import('@eva-tfjs/experiments');
  const { MpiCommunicator } = await import('eva-tfjs/distributed');
  const { DataParallel } = await import('eva-tfjs/distributed');
  const { createOptimizerByName } = await import('eva-tfjs');
  const { createAutoencoder } = await import('@eva-tfjs/experiments');
  const { initializeLikePyTorch } = await import('@eva-tfjs/experiments');
  const communicator = new MpiCommunicator({ collectiveTimeout: 600 });
  await setupBackend('wasm');
  const local = Number(values.batch) / communicator.size;
  const x = tf.randomUniform([local, 784], 0, 1, 'float32', communicator.rank);
  const runs = ['sgd', 'eva'].map((name) => {
    const model = createAutoencoder();
    initializeLikePyTorch(model, 0);
    const optimizer = new DataParallel(
      createOptimizerByName(name, model, { learningRate: 0.01, weightDecay: 5e-4 }),
      communicator,
    );
    model.compile({ optimizer, loss: 'meanSquaredError' });
    return { name, model, optimizer, times: [] as number[], comm: 0, floats: 0 };
  });
  const steps = Number(values.steps);
  for (let i = 0; i < steps + 2; i++) {
    for (const run of runs) {
      const before = run.optimizer.communicationSeconds;
      const floats = run.optimizer.communicatedFloats;
      communicator.barrier();
      const start = performance.now();
      await run.model.trainOnBatch(x, x);
      const ms = performance.now() - start;
      if (i >= 2) {
        run.times.push(ms);
        run.comm += (run.optimizer.communicationSeconds - before) * 1000;
        run.floats = run.optimizer.communicatedFloats - floats;
      }
    }
  }
  if (communicator.rank === 0) {
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    for (const run of runs) {
      console.log(
        JSON.stringify({
          optimizer: run.name,
          ranks: communicator.size,
          ms: median(run.times),
          commShare: run.comm / run.times.reduce((a, b) => a + b, 0),
          floatsPerStep: run.floats,
        }),
      );
    }
  }
  communicator.finalize();
} else {
  const script = fileURLToPath(import.meta.url);
  const rows: Array<{
    optimizer: string;
    ranks: number;
    ms: number;
    commShare: number;
    floatsPerStep: number;
  }> = [];
  for (const ranks of values.ranks!.split(',').map(Number)) {
    const output = execFileSync(
      'mpirun',
      [
        '--allow-run-as-root',
        '--oversubscribe',
        '--mca',
        'btl',
        'self,vader',
        '-np',
        String(ranks),
        process.execPath,
        '--conditions=eva-tfjs-source',
        '--import',
        'tsx',
        script,
        '--worker',
        '--batch',
        values.batch!,
        '--steps',
        values.steps!,
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    for (const line of output.split('\n')) if (line.startsWith('{')) rows.push(JSON.parse(line));
  }
  console.log(
    `autoencoder, global batch ${values.batch}, wasm, median of ${values.steps} steps after 2 warm-up steps\n`,
  );
  console.log(
    '| optimizer | ranks | step ms | vs 1 rank | communication share of a step | floats allreduced per step | vs SGD |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const single = rows.find((s) => s.optimizer === r.optimizer && s.ranks === 1);
    const sgd = rows.find((s) => s.optimizer === 'sgd' && s.ranks === r.ranks);
    console.log(
      `| ${r.optimizer} | ${r.ranks} | ${r.ms.toFixed(1)} | ${single ? (r.ms / single.ms).toFixed(2) : '-'} | ` +
        `${(100 * r.commShare).toFixed(1)}% | ${r.floatsPerStep} | ${sgd ? `+${((100 * (r.floatsPerStep - sgd.floatsPerStep)) / sgd.floatsPerStep).toFixed(3)}%` : '-'} |`,
    );
  }
}
