/**
 * Reports of `compare` and `sweep`: a directory with `summary.md` (settings, the exact command,
 * final metrics, epochs and time to reach a target as in the paper's Fig. 5 inset),
 * `results.json` (every epoch record) and SVG plots of test loss (and accuracy) against epochs
 * and against training time, rendered with Vega-Lite. Time is the training processes' CPU time
 * when every record has it (see {@link timeBasis}), else wall-clock time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { EpochRecord, RunResult } from './train-run.js';

/** A run with the label it is reported under (e.g. `eva` or `eva lr=0.1`). */
export interface LabelledRun {
  label: string;
  result: RunResult;
}

/** Settings shown at the top of a report. */
export interface ReportSettings {
  title: string;
  /** The command line that produced the report. */
  command: string;
  /** Free-form `key: value` lines (backend, dataset sizes, schedule, ...). */
  details: Record<string, string | number>;
  /** Target test loss (reconstruction) or accuracy (classification); default: see {@link defaultTarget}. */
  target?: number;
}

/** Whether the runs are classifiers (reported by accuracy). */
const isClassification = (runs: LabelledRun[]) => runs[0]?.result.task === 'classification';

/** The test metric reports rank by (accuracy for classifiers, else loss); null when absent. */
const testMetric = (e: EpochRecord, classification: boolean): number | null =>
  (classification ? e.testAccuracy : e.testLoss) ?? null;

/** The best test metric of `epochs`; null without test samples. */
function bestMetric(epochs: EpochRecord[], classification: boolean): number | null {
  const values = epochs
    .map((e) => testMetric(e, classification))
    .filter((v): v is number => v != null);
  if (values.length === 0) return null;
  return classification ? Math.max(...values) : Math.min(...values);
}

/**
 * The default target: the level every run reaches, i.e. the worst of the runs' best test
 * losses (or, for classifiers, the lowest of their best test accuracies), diverged runs left
 * out; NaN without test metrics.
 */
export function defaultTarget(runs: LabelledRun[]): number {
  const classification = isClassification(runs);
  const finished = runs.filter((r) => r.result.diverged == null);
  const bests = finished.map((r) => bestMetric(r.result.epochs, classification));
  if (bests.length === 0 || bests.some((b) => b == null)) return NaN;
  return classification ? Math.min(...(bests as number[])) : Math.max(...(bests as number[]));
}

/** How a report measures training time. */
export interface TimeBasis {
  /** The training time of an epoch record, cumulative since the start of its run. */
  of(e: EpochRecord): number;
  /** The unit as printed after a number: 'CPU s' or 's'. */
  unit: string;
  /** One line for the report's settings. */
  description: string;
}

/**
 * CPU seconds when every epoch record of `runs` has them (runs made on a shared machine then
 * compare by the work they did rather than by what else ran at the time; caches and memory
 * bandwidth still couple them a little), else wall-clock seconds.
 */
export function timeBasis(runs: LabelledRun[]): TimeBasis {
  const cpu = runs.every((r) => r.result.epochs.every((e) => e.cpuSeconds !== undefined));
  return cpu
    ? {
        of: (e) => e.cpuSeconds!,
        unit: 'CPU s',
        description:
          'CPU seconds of the training process (evaluation excluded): other load on the ' +
          'machine inflates them far less than wall-clock seconds (only through caches and ' +
          "memory bandwidth); in data-parallel runs, rank 0's, including its waits in the " +
          'allreduce; wall-clock seconds in "training s"',
      }
    : {
        of: (e) => e.seconds,
        unit: 's',
        description: 'wall-clock seconds (evaluation excluded; some records lack CPU times)',
      };
}

/** The first epoch record that reaches `target`, or undefined. */
export function firstReaching(
  epochs: EpochRecord[],
  target: number,
  classification: boolean,
): EpochRecord | undefined {
  return epochs.find((e) => {
    const value = testMetric(e, classification);
    return value != null && (classification ? value >= target : value <= target);
  });
}

async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function lineChart(
  rows: Array<Record<string, string | number | null>>,
  x: { field: string; title: string },
  y: { field: string; title: string; log: boolean },
  title: string,
): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 480,
    height: 300,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: x.field, type: 'quantitative', title: x.title },
      y: {
        field: y.field,
        type: 'quantitative',
        title: y.title,
        scale: y.log ? { type: 'log' } : { zero: false },
      },
      color: { field: 'run', type: 'nominal', title: 'optimizer' },
    },
  };
}

/** `-` for a missing or non-finite value; `n/a` for a test metric without test samples. */
const fixed = (v: number | null | undefined, digits = 5) =>
  v === null ? 'n/a' : v == null || !Number.isFinite(v) ? '-' : v.toFixed(digits);

/**
 * One line per run against the reference run (SGD's when there is one; none when every run uses
 * the reference's optimizer, as in a sweep, or when the reference diverged): whether and when it
 * reached the reference's final test metric, or that it diverged first, e.g. "eva reached sgd's final test loss 0.27 at epoch 4 of 10, in 21.0 CPU s
 * against 50.2 CPU s" (times as {@link timeBasis} says).
 */
export function verdicts(runs: LabelledRun[]): string[] {
  const reference = runs.find((r) => r.result.optimizer === 'sgd');
  if (reference == null || reference.result.diverged != null) return [];
  const classification = isClassification(runs);
  const metric = classification ? 'test accuracy' : 'test loss';
  const referenceLast = reference.result.epochs.at(-1);
  const goal = referenceLast && testMetric(referenceLast, classification);
  if (goal == null) return [];
  const digits = classification ? 4 : 5;
  const time = timeBasis(runs);
  return runs
    .filter((r) => r !== reference && r.result.optimizer !== 'sgd')
    .map(({ label, result }) => {
      const epochs = result.epochs;
      const reached = firstReaching(epochs, goal, classification);
      const what = `${reference.label}'s final ${metric} ${goal.toFixed(digits)}`;
      if (reached == null && result.diverged != null) {
        const best = bestMetric(epochs, classification);
        return `${label} diverged in epoch ${result.diverged.epoch} before reaching ${what} (its best before: ${fixed(epochs.length === 0 ? undefined : best, digits)})`;
      }
      if (reached == null) {
        const best = bestMetric(epochs, classification);
        return `${label} did not reach ${what} in ${epochs.length} epochs (its best: ${fixed(best, digits)})`;
      }
      return (
        `${label} reached ${what} at epoch ${reached.epoch} of ${epochs.length}, in ` +
        `${time.of(reached).toFixed(1)} ${time.unit} against ` +
        `${time.of(referenceLast!).toFixed(1)} ${time.unit}`
      );
    });
}

/** Writes the report for `runs` into `dir`; returns the Markdown summary. */
export async function writeReport(
  dir: string,
  runs: LabelledRun[],
  settings: ReportSettings,
): Promise<string> {
  if (runs.length === 0) throw new Error('writeReport: no runs to report');
  mkdirSync(dir, { recursive: true });
  const classification = isClassification(runs);
  const target = settings.target ?? defaultTarget(runs);
  const time = timeBasis(runs);
  const rows = runs.flatMap(({ label, result }) =>
    result.epochs.map((e) => ({
      run: label,
      epoch: e.epoch,
      time: time.of(e),
      trainLoss: e.trainLoss,
      testLoss: e.testLoss,
      ...(classification
        ? { testAccuracy: e.testAccuracy === null ? null : (e.testAccuracy ?? 0) }
        : {}),
    })),
  );
  const axes = {
    epoch: { field: 'epoch', title: 'epoch' },
    seconds: { field: 'time', title: `training time (${time.unit})` },
  };
  const plots: Array<[keyof typeof axes, string, string, boolean]> = [
    ['epoch', 'testLoss', 'test loss', true],
    ['seconds', 'testLoss', 'test loss', true],
    ['epoch', 'trainLoss', 'train loss', true],
    ...(classification
      ? ([
          ['epoch', 'testAccuracy', 'test accuracy', false],
          ['seconds', 'testAccuracy', 'test accuracy', false],
        ] as Array<[keyof typeof axes, string, string, boolean]>)
      : []),
  ];
  const charts: Array<[string, TopLevelSpec]> = plots.map(([x, field, title, log]) => [
    `${title.replace(' ', '-')}-vs-${x === 'epoch' ? 'epoch' : 'time'}.svg`,
    lineChart(rows, axes[x], { field, title, log }, `${title} against ${axes[x].title}`),
  ]);
  for (const [file, spec] of charts) writeFileSync(join(dir, file), await renderSvg(spec));
  const reference = runs.find((r) => r.result.optimizer === 'sgd') ?? runs[0]!;
  const perEpoch = (r: LabelledRun) => {
    const last = r.result.epochs.at(-1);
    return last == null ? NaN : time.of(last) / r.result.epochs.length;
  };
  const metric = classification ? 'test accuracy' : 'test loss';
  const lines = [
    `# ${settings.title}`,
    '',
    'Command:',
    '',
    '```sh',
    settings.command,
    '```',
    '',
    ...Object.entries(settings.details).map(([k, v]) => `- ${k}: ${v}`),
    `- target ${metric}: ${fixed(target)}${settings.target == null ? ' (default: the level every run reaches)' : ''}`,
    `- time: ${time.description}`,
    '',
    `| run | lr | final train loss | final test loss |${classification ? ' final test acc |' : ''} best ${metric} | training s | CPU s | time/epoch vs ${reference.label} | epochs to target | ${time.unit} to target | skipped steps |`,
    `|---|---|---|---|${classification ? '---|' : ''}---|---|---|---|---|---|---|`,
  ];
  for (const run of runs) {
    const epochs = run.result.epochs;
    const last = epochs.at(-1);
    const best = bestMetric(epochs, classification);
    const reached = firstReaching(epochs, target, classification);
    const diverged = run.result.diverged;
    const label = diverged ? `${run.label} (diverged in epoch ${diverged.epoch})` : run.label;
    lines.push(
      `| ${label} | ${run.result.learningRate} | ${fixed(last?.trainLoss)} | ${fixed(last?.testLoss)} |` +
        (classification ? ` ${last ? fixed(last.testAccuracy ?? null, 4) : '-'} |` : '') +
        ` ${fixed(epochs.length === 0 ? undefined : best)} | ${last?.seconds.toFixed(1) ?? '-'} | ${last?.cpuSeconds?.toFixed(1) ?? '-'} |` +
        ` ${fixed(perEpoch(run) / perEpoch(reference), 2)} |` +
        ` ${reached?.epoch ?? 'not reached'} | ${reached ? time.of(reached).toFixed(1) : '-'} | ${run.result.skippedSteps} |`,
    );
  }
  const divergedRuns = runs.filter((r) => r.result.diverged != null);
  if (divergedRuns.length > 0) {
    lines.push('', 'Diverged runs (their rows show the epochs before the divergence):', '');
    for (const run of divergedRuns) {
      lines.push(
        `- ${run.label}, epoch ${run.result.diverged!.epoch}: ${run.result.diverged!.reason}`,
      );
    }
  }
  const scaled = runs.filter((r) => r.result.epochs.some((e) => e.scale != null));
  if (scaled.length > 0) {
    lines.push(
      '',
      "Scaling factor of the preconditioned directions (the optimizer's `lastScale`: KL clipping " +
        'for Eva and K-FAC, where below 1 means the clip bound; KL normalisation for Eva-f and ' +
        "FOOF): each epoch's mean, and the share of its steps below 1:",
      '',
    );
    for (const run of scaled) {
      const perEpoch = run.result.epochs.map((e) =>
        e.scale == null
          ? `${e.epoch}: -`
          : `${e.epoch}: ${e.scale.mean.toPrecision(3)} (${(100 * e.scale.belowOne).toFixed(0)}%)`,
      );
      lines.push(`- ${run.label}: ${perEpoch.join(', ')}`);
    }
  }
  const verdict = verdicts(runs);
  if (verdict.length > 0) lines.push('', '**Verdict:**', '', ...verdict.map((v) => `- ${v}`));
  lines.push('', 'Options of each run (registry names):', '');
  for (const run of runs)
    lines.push(`- ${run.label}: \`${JSON.stringify(run.result.optimizerOptions)}\``);
  lines.push('', ...charts.map(([file]) => `![${file}](${file})`), '');
  const summary = lines.join('\n');
  writeFileSync(join(dir, 'summary.md'), summary);
  writeFileSync(
    join(dir, 'results.json'),
    JSON.stringify({ settings: { ...settings, target }, runs }, null, 1),
  );
  return summary;
}
