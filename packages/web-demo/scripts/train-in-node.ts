/**
 * Runs the demo's training in Node on the wasm backend (fast kernels on), with the page's own
 * modules: its digits (public/digits.bin, written by pack-digits.ts), models, optimizer options,
 * schedule and loop. It prints, per optimizer, the training loss averaged over 10 steps at
 * checkpoints, its largest rise (loss-rise.ts: a loss over the lowest before it, per step and over
 * 10-step means; 1 when the loss only falls) and when the readout's target was reached. The demo's defaults (tuned-settings.ts) were chosen with it:
 *
 *   node --conditions=eva-tfjs-source --import tsx packages/web-demo/scripts/train-in-node.ts \
 *     --optimizers sgd,eva --lr sgd:1,eva:0.1 --steps 300 --warmup 30 --decay constant
 *
 * `--lr` takes `x` (every optimizer) or `name:x` pairs; absent, the tuned values. `--sweep
 * 0.01,0.1` trains each optimizer once at each of these learning rates instead (side by side,
 * on the same batches). `--json file` also writes every loss.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setupBackend } from '@eva-tfjs/experiments';
import { decodeDigits } from '../src/data.js';
import { RunLoop } from '../src/run-loop.js';
import { createRun, disposeRun, optimizerOptions, type ModelKind, type Run } from '../src/runs.js';
import { DECAYS, type Decay } from '../src/schedule.js';
import { largestRise } from '../src/loss-rise.js';
import { firstReached, SMOOTHING_STEPS } from '../src/target-readout.js';
import { DEFAULT_SETTINGS, initialLearningRate } from '../src/tuned-settings.js';

const { values } = parseArgs({
  options: {
    optimizers: { type: 'string', default: 'sgd,eva' },
    lr: { type: 'string' },
    sweep: { type: 'string' },
    model: { type: 'string', default: 'autoencoder' },
    batch: { type: 'string', default: String(DEFAULT_SETTINGS.batch) },
    steps: { type: 'string', default: String(DEFAULT_SETTINGS.steps) },
    warmup: { type: 'string', default: String(DEFAULT_SETTINGS.warmupSteps) },
    decay: { type: 'string', default: DEFAULT_SETTINGS.decay },
    target: { type: 'string' },
    every: { type: 'string', default: '50' },
    json: { type: 'string' },
  },
});

/** A positive whole number from flag `name`. */
function whole(name: string, text: string | undefined, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`--${name} must be a whole number >= ${min}, got '${text}'`);
  }
  return value;
}

/**
 * The learning rate of `optimizer` from `--lr` (`x`, or `name:x` pairs), else the tuned one
 * for `model`.
 */
function learningRateOf(optimizer: string, model: ModelKind): number {
  const text = values.lr;
  const tuned = initialLearningRate(optimizer, model);
  if (text == null) return tuned;
  if (!text.includes(':')) return Number(text);
  const pair = text.split(',').find((p) => p.split(':')[0] === optimizer);
  return pair == null ? tuned : Number(pair.split(':')[1]);
}

/** The 10-step mean loss at each step (NaN before the 10th). */
function smoothed(losses: readonly number[]): number[] {
  return losses.map((_, i) =>
    i + 1 < SMOOTHING_STEPS
      ? NaN
      : losses.slice(i + 1 - SMOOTHING_STEPS, i + 1).reduce((a, b) => a + b, 0) / SMOOTHING_STEPS,
  );
}

async function main(): Promise<void> {
  const model = values.model as ModelKind;
  if (model !== 'autoencoder' && model !== 'mlp') throw new Error('--model: autoencoder or mlp');
  const decay = values.decay as Decay;
  if (!DECAYS.includes(decay)) throw new Error(`--decay: one of ${DECAYS.join(', ')}`);
  const steps = whole('steps', values.steps, 1);
  const settings = {
    batch: whole('batch', values.batch, 1),
    totalSteps: steps,
    warmupSteps: whole('warmup', values.warmup, 0),
    decay,
  };
  const target = values.target == null ? DEFAULT_SETTINGS.target[model] : Number(values.target);
  const every = whole('every', values.every, 1);
  await setupBackend('wasm');
  const digitsFile = new URL('../public/digits.bin', import.meta.url);
  const digits = decodeDigits(new Uint8Array(readFileSync(digitsFile)));
  const sweep = values.sweep?.split(',').map(Number);
  const runs: Run[] = values.optimizers!.split(',').flatMap((name) =>
    (sweep ?? [learningRateOf(name, model)]).map((lr) => {
      if (!(lr > 0)) throw new Error(`learning rates must be numbers > 0, got ${lr}`);
      return createRun(name, model, optimizerOptions(name, lr, {}));
    }),
  );
  const finished = new Promise<void>((resolve, reject) => {
    const loop = new RunLoop(digits, {
      progress: () => undefined,
      stopped: (error) => (error == null ? resolve() : reject(error)),
    });
    loop.replaceRuns(runs);
    loop.start(settings);
  });
  await finished;
  console.log(
    `${model}, batch ${settings.batch}, ${steps} steps, warm-up ${settings.warmupSteps}, ` +
      `${decay}, target ${target}`,
  );
  const checkpoints = Array.from({ length: Math.floor(steps / every) }, (_, i) => (i + 1) * every);
  console.log(
    [
      'optimizer',
      'lr',
      ...checkpoints.map((c) => `@${c}`),
      'rise/1',
      'rise/10',
      'target at',
      's/step',
    ].join('\t'),
  );
  for (const run of runs) {
    const losses = run.losses.map((p) => p.loss);
    const means = smoothed(losses);
    const rises = [largestRise(losses, 1), largestRise(losses)];
    const reached = firstReached(run.losses, target);
    console.log(
      [
        run.name,
        run.learningRate,
        ...checkpoints.map((c) => means[c - 1]!.toFixed(4)),
        ...rises.map((r) => `${r.ratio.toFixed(2)}x@${r.step}`),
        reached == null ? 'not yet' : `${reached.step} (${reached.seconds.toFixed(1)} s)`,
        (run.seconds / run.steps).toFixed(3),
      ].join('\t'),
    );
  }
  if (values.json != null) {
    const record = runs.map((r) => ({
      name: r.name,
      learningRate: r.learningRate,
      losses: r.losses.map((p) => p.loss),
    }));
    writeFileSync(values.json, JSON.stringify({ settings, target, runs: record }));
  }
  runs.forEach(disposeRun);
  digits.x.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
