/**
 * Per-iteration time and memory of optimizers relative to SGD (the paper's Tables 5 and 10),
 * measured alternately in one process through `model.trainOnBatch` (the path `model.fit` takes)
 * on random data of a model's input shape.
 *
 * A label may carry an inverse interval: `kfac@10` is K-FAC with `invUpdateFreq` 10 (likewise
 * foof@N, shampoo@N); such runs are timed over at least one whole interval and their mean is
 * the per-iteration time (inverse steps are periodic spikes a median would hide). Runs without
 * an interval whose steps take over 2 s are timed on 3 steps only. A label may also switch on
 * boolean options: `shampoo@10+rootWorker` (see {@link parseBenchmarkLabel}).
 *
 * Memory: the optimizer's own state (its `getWeights`, base slots included) and the peak bytes
 * one training step holds (tf.profile of one step: this run's model and state plus the step's
 * temporaries, not the other runs' tensors).
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { createModel } from '../models/create-model.js';
import { initializeLikePyTorch } from '../models/initialize.js';
import {
  createOptimizerByName,
  disposeIterationCounters,
  optimizerEntry,
  optimizerOptionNames,
} from 'eva-tfjs';

/** A benchmark label taken apart: `name[@N][+option...]`. */
export interface BenchmarkLabel {
  /** The registry name. */
  readonly name: string;
  /** The inverse interval `N` of `@N`. */
  readonly interval?: number;
  /** Boolean options of the optimizer set to true (`+rootWorker`). */
  readonly switches: readonly string[];
}

/**
 * Parses `name[@N][+option...]`: a registry name, an optional inverse interval N (a positive
 * integer; the optimizer must have `invUpdateFreq`) and boolean options to switch on, e.g.
 * `shampoo@10+rootWorker`. Throws naming the label and what was expected.
 */
export function parseBenchmarkLabel(label: string): BenchmarkLabel {
  const [head, ...switches] = label.split('+');
  const [name, interval, ...rest] = head!.split('@');
  const entry = optimizerEntry(name!);
  if (interval != null) {
    if (rest.length > 0 || !/^[1-9]\d*$/.test(interval)) {
      throw new Error(`'${label}': the interval of name@N must be a positive integer`);
    }
    if (!('invUpdateFreq' in entry.options)) {
      throw new Error(`'${label}': ${name} has no inverse interval (invUpdateFreq) for @N`);
    }
  }
  for (const option of switches) {
    if (entry.options[option]?.kind !== 'boolean') {
      const booleans = Object.entries(entry.options)
        .filter(([, spec]) => spec.kind === 'boolean')
        .map(([key]) => key);
      throw new Error(
        `'${label}': '+${option}' must be a boolean option of ${name} ` +
          `(${booleans.length > 0 ? booleans.join(', ') : 'it has none'})`,
      );
    }
  }
  return { name: name!, interval: interval == null ? undefined : Number(interval), switches };
}

/** The input geometry benchmarks use for `model`: CIFAR-shaped for the CNNs, MNIST otherwise. */
export function benchmarkData(model: string): StepBenchmarkOptions['data'] {
  return model === 'vgg' || model === 'resnet'
    ? { name: 'cifar10', height: 32, width: 32, channels: 3, classes: 10 }
    : { name: 'mnist', height: 28, width: 28, channels: 1, classes: 10 };
}

/** What {@link benchmarkSteps} measures. */
export interface StepBenchmarkOptions {
  /** Model name (default 'autoencoder'). */
  model?: string;
  /** Geometry of the input (only shapes and class count are used). */
  data: Pick<Dataset, 'name' | 'height' | 'width' | 'channels' | 'classes'>;
  batchSize: number;
  /** Timed steps per run (at least one interval for `@N` labels). */
  steps: number;
  /**
   * Labels `name[@N][+option...]` ({@link parseBenchmarkLabel}); the first `sgd` is the
   * reference.
   */
  labels: string[];
  learningRate?: number;
  weightDecay?: number;
  /** M-FAC window (default 32; 1024 does not fit most models here). */
  mfacWindow?: number;
  /** Statistics/inverse settings shared by the runs that accept them. */
  extraOptions?: Record<string, unknown>;
  onProgress?: (cycle: number, cycles: number) => void;
}

/** One measured optimizer. */
export interface StepBenchmarkRow {
  label: string;
  /** Median step ms (mean for `@N` runs). */
  ms: number;
  steps: number;
  stateBytes: number;
  peakBytes: number;
}

const WARMUP = 2;
const SLOW_MS = 2000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function stateBytes(optimizer: tf.Optimizer): Promise<number> {
  const weights = await optimizer.getWeights();
  const bytes = weights
    .filter((w) => w.name !== 'iter' && !w.name.endsWith('/iter'))
    .reduce((sum, w) => sum + w.tensor.size * 4, 0);
  disposeIterationCounters(weights);
  return bytes;
}

/** Runs the benchmark on the current backend. */
export async function benchmarkSteps(options: StepBenchmarkOptions): Promise<StepBenchmarkRow[]> {
  const { data, batchSize } = options;
  const probe = createModel(options.model ?? 'autoencoder', {
    ...data,
    train: emptySet,
    test: emptySet,
  });
  const { task, input } = probe;
  probe.model.dispose();
  const pixels = data.height * data.width * data.channels;
  const x = tf.randomUniform(
    input === 'flat' ? [batchSize, pixels] : [batchSize, data.height, data.width, data.channels],
  );
  const y =
    task === 'classification'
      ? tf.tidy(() =>
          tf
            .oneHot(tf.randomUniform([batchSize], 0, data.classes, 'int32'), data.classes)
            .toFloat(),
        )
      : x;
  const runs = options.labels.map((label) => {
    const { name, interval, switches } = parseBenchmarkLabel(label);
    const { model } = createModel(options.model ?? 'autoencoder', {
      ...data,
      train: emptySet,
      test: emptySet,
    });
    initializeLikePyTorch(model, 0);
    const accepted = new Set(optimizerOptionNames(name));
    const optimizer = createOptimizerByName(name, model, {
      learningRate: options.learningRate ?? 0.01,
      momentum: accepted.has('momentum') ? 0.9 : undefined,
      weightDecay: options.weightDecay ?? 5e-4,
      ...(interval ? { invUpdateFreq: interval } : {}),
      ...(accepted.has('m') ? { m: options.mfacWindow ?? 32 } : {}),
      ...Object.fromEntries(
        Object.entries(options.extraOptions ?? {}).filter(([k]) => accepted.has(k)),
      ),
      ...Object.fromEntries(switches.map((option) => [option, true])),
    });
    model.compile({
      optimizer,
      loss: task === 'classification' ? 'categoricalCrossentropy' : 'meanSquaredError',
    });
    const target = interval ? Math.max(options.steps, interval) : options.steps;
    return { label, model, optimizer, interval, target, times: [] as number[], slow: false };
  });
  const rows: StepBenchmarkRow[] = [];
  try {
    const cycles = Math.max(...runs.map((r) => r.target)) + WARMUP;
    for (let i = 0; i < cycles; i++) {
      for (const run of runs) {
        if (run.times.length >= run.target || (run.slow && run.times.length >= 3)) continue;
        const start = performance.now();
        await run.model.trainOnBatch(x, y);
        const ms = performance.now() - start;
        if (i >= WARMUP) run.times.push(ms);
        if (ms > SLOW_MS && run.interval == null) run.slow = true;
      }
      options.onProgress?.(i + 1, cycles);
    }
    for (const run of runs) {
      const state = await stateBytes(run.optimizer);
      const modelBytes = run.model.getWeights().reduce((sum, w) => sum + w.size * 4, 0);
      const others = tf.memory().numBytes - state - modelBytes;
      const profile = await tf.profile(async () => {
        await run.model.trainOnBatch(x, y);
      });
      const mean = run.times.reduce((a, b) => a + b, 0) / run.times.length;
      rows.push({
        label: run.label,
        ms: run.interval ? mean : median(run.times),
        steps: run.times.length,
        stateBytes: state,
        peakBytes: profile.peakBytes - others,
      });
    }
  } finally {
    for (const run of runs) {
      run.model.dispose();
      run.optimizer.dispose();
    }
    x.dispose();
    if (y !== x) y.dispose();
  }
  return rows;
}

const emptySet = { images: new Float32Array(0), labels: new Uint8Array(0), count: 0 };

/** The rows as a Markdown table with ratios to the `sgd` row (or the first). */
export function benchmarkTable(rows: StepBenchmarkRow[]): string {
  const reference = rows.find((r) => r.label === 'sgd') ?? rows[0]!;
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  return [
    '| optimizer | step ms (median; mean for @N) | steps | time / SGD | optimizer state MB | state / SGD | peak step MB | peak / SGD |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.ms.toFixed(1)} | ${r.steps} | ${(r.ms / reference.ms).toFixed(2)} | ` +
        `${mb(r.stateBytes)} | ${(r.stateBytes / reference.stateBytes).toFixed(2)} | ` +
        `${mb(r.peakBytes)} | ${(r.peakBytes / reference.peakBytes).toFixed(2)} |`,
    ),
  ].join('\n');
}
