/**
 * Benchmark (not a test): data-parallel step time of the autoencoder with a fixed global batch
 * on 1 and 2 ranks (mpirun, this machine), for SGD and Eva, with the share of each step spent
 * in communication (the fused allreduce, including the host reads it needs) and the volume
 * communicated (Eva's extra floats relative to the gradients). A last run on 2 processes
 * trains without DataParallel (each process its half batch, no allreduce, a barrier per step):
 * the speed-up two ranks could reach on this machine if communication were free. Ranks run
 * with V8's single-threaded GC, as the CLI's `--distributed` ranks do (src/cli/rank-process.ts);
 * one more 2-rank run with V8's default (concurrent) GC shows why.
 *
 *   node --conditions=eva-tfjs-source --import tsx bench/distributed.ts [--batch 500] [--steps 10] [--ranks 1,2]
 * (a rank process is this script with --worker [--independent], started by mpirun)
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { RANK_NODE_FLAG } from '../packages/experiments/src/cli/rank-process.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '500' },
    steps: { type: 'string', default: '10' },
    ranks: { type: 'string', default: '1,2' },
    worker: { type: 'boolean', default: false },
    independent: { type: 'boolean', default: false },
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
    const inner = createOptimizerByName(name, model, { learningRate: 0.01, weightDecay: 5e-4 });
    // --independent: no DataParallel, each process trains alone (the bound without communication).
    const optimizer = values.independent ? null : new DataParallel(inner, communicator);
    model.compile({ optimizer: optimizer ?? inner, loss: 'meanSquaredError' });
    return { name, model, optimizer, times: [] as number[], comm: 0, floats: 0 };
  });
  const steps = Number(values.steps);
  for (let i = 0; i < steps + 2; i++) {
    for (const run of runs) {
      const before = run.optimizer?.communicationSeconds ?? 0;
      const floats = run.optimizer?.communicatedFloats ?? 0;
      communicator.barrier();
      const start = performance.now();
      await run.model.trainOnBatch(x, x);
      // Until every rank is done: a slower rank's time counts in every configuration (in a
      // DataParallel step the allreduce waits for it anyway; without it, only this barrier does).
      communicator.barrier();
      const ms = performance.now() - start;
      if (i >= 2) {
        run.times.push(ms);
        run.comm += ((run.optimizer?.communicationSeconds ?? 0) - before) * 1000;
        run.floats = (run.optimizer?.communicatedFloats ?? 0) - floats;
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
          independent: values.independent,
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
    independent: boolean;
    defaultGc: boolean;
    ms: number;
    commShare: number;
    floatsPerStep: number;
  }> = [];
  const ranks = values.ranks!.split(',').map(Number);
  // With 2 ranks among them: the bound without allreduce and the default GC, on 2 processes.
  const runs = [
    ...ranks.map((r) => ({ ranks: r, independent: false, gc: true })),
    ...(ranks.includes(2)
      ? [
          { ranks: 2, independent: true, gc: true },
          { ranks: 2, independent: false, gc: false },
        ]
      : []),
  ];
  for (const { ranks, independent, gc } of runs) {
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
        ...(gc ? [RANK_NODE_FLAG] : []),
        '--conditions=eva-tfjs-source',
        '--import',
        'tsx',
        script,
        '--worker',
        '--batch',
        values.batch!,
        '--steps',
        values.steps!,
        ...(independent ? ['--independent'] : []),
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    for (const line of output.split('\n')) {
      if (line.startsWith('{')) rows.push({ ...JSON.parse(line), defaultGc: !gc });
    }
  }
  console.log(
    `autoencoder, global batch ${values.batch}, wasm, median of ${values.steps} steps after 2 warm-up steps\n`,
  );
  console.log(
    '| optimizer | ranks | step ms | time vs SGD | steps/s vs 1 rank | communication share of a step | floats allreduced per step | volume vs SGD |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const single = rows.find(
      (s) => s.optimizer === r.optimizer && s.ranks === 1 && !s.independent && !s.defaultGc,
    );
    const sgd = rows.find(
      (s) =>
        s.optimizer === 'sgd' &&
        s.ranks === r.ranks &&
        s.independent === r.independent &&
        s.defaultGc === r.defaultGc,
    );
    const volume =
      sgd && sgd.floatsPerStep > 0
        ? `+${((100 * (r.floatsPerStep - sgd.floatsPerStep)) / sgd.floatsPerStep).toFixed(3)}%`
        : '-';
    console.log(
      `| ${r.optimizer} | ${r.ranks}${r.independent ? ' (no allreduce)' : ''}${r.defaultGc ? " (V8's default GC)" : ''} | ${r.ms.toFixed(1)} | ` +
        `${sgd ? (r.ms / sgd.ms).toFixed(3) : '-'} | ${single ? (single.ms / r.ms).toFixed(2) : '-'} | ` +
        `${(100 * r.commShare).toFixed(1)}% | ${r.floatsPerStep} | ${volume} |`,
    );
  }
}
