/**
 * `eva-tfjs report`: one report from runs of earlier reports, without training again, e.g. each
 * optimizer's best run of its learning-rate sweep side by side. Sources are report directories
 * (their `results.json`); `<dir>:best` takes only the run with the best final test metric
 * (lowest test loss, highest test accuracy for classifiers), `<dir>` every run.
 */
import { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabelledRun } from '../../experiments/report.js';
import type { CliContext } from '../context.js';
import { checkOutputFree, holdOutput } from '../output.js';
import { names, number } from '../parsers.js';
import { report } from '../training.js';
import { checkList } from '../validation.js';

/** The flags of `report`. */
export interface ReportFlags {
  from: string[];
  out: string;
  title?: string;
  target?: number;
}

/** What a report's `results.json` holds (the parts read here). */
interface ResultsFile {
  settings: { title: string; details: Record<string, string | number> };
  runs: LabelledRun[];
}

/** The final test metric a run is ranked by (smaller is better); Infinity when absent or diverged. */
function rank(run: LabelledRun): number {
  if (run.result.diverged != null) return Infinity;
  const last = run.result.epochs.at(-1);
  const value =
    run.result.task === 'classification' ? -(last?.testAccuracy ?? NaN) : (last?.testLoss ?? NaN);
  return Number.isFinite(value) ? value : Infinity;
}

/** Reads the runs `source` names (`<dir>` or `<dir>:best`), with a clear error when it cannot. */
export function runsOf(source: string): { file: ResultsFile; runs: LabelledRun[] } {
  const best = source.endsWith(':best');
  const dir = best ? source.slice(0, -':best'.length) : source;
  const path = join(dir, 'results.json');
  if (!existsSync(path)) throw new Error(`--from ${source}: ${path} does not exist`);
  let file: ResultsFile;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as ResultsFile;
  } catch (e) {
    throw new Error(`--from ${source}: ${path} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!Array.isArray(file.runs) || file.runs.length === 0) {
    throw new Error(`--from ${source}: ${path} holds no runs`);
  }
  if (!best) return { file, runs: file.runs };
  const chosen = file.runs.reduce((a, b) => (rank(b) < rank(a) ? b : a));
  if (rank(chosen) === Infinity) {
    throw new Error(
      `--from ${source}: no run in ${path} has a finite final test metric (diverged runs do not count)`,
    );
  }
  return { file, runs: [chosen] };
}

/** Writes the report of the runs of `flags.from` to `flags.out`. */
export async function combine(context: CliContext, flags: ReportFlags): Promise<void> {
  checkList('--from', flags.from, 'sources');
  const sources = flags.from.map((source) => ({ source, ...runsOf(source) }));
  const runs = sources.flatMap((s) => s.runs);
  const labels = runs.map((r) => r.label);
  const twice = labels.find((label, i) => labels.indexOf(label) !== i);
  if (twice != null) throw new Error(`--from: two runs are labelled '${twice}'`);
  const tasks = new Set(runs.map((r) => r.result.task));
  if (tasks.size > 1) throw new Error('--from: the runs mix classification and reconstruction');
  checkOutputFree(flags.out);
  const output = holdOutput(context, flags.out);
  try {
    const { details } = sources[0]!.file.settings;
    await report(context, runs, {
      title: flags.title ?? sources.map((s) => s.file.settings.title).join('; '),
      out: flags.out,
      details: {
        ...details,
        'runs from': sources.map(({ source }) => source).join(', '),
        ...(sources.length > 1
          ? {
              note:
                "the settings above are the first source's; training times come from " +
                'separate runs (compare them with care on a shared machine)',
            }
          : {}),
      },
      target: flags.target,
    });
  } finally {
    output.release();
  }
}

/** The `report` command. */
export function reportCommand(context: CliContext): Command {
  return new Command('report')
    .description("one report from earlier reports' runs (e.g. each sweep's best), no training")
    .requiredOption(
      '--from <sources>',
      'comma-separated report directories; <dir>:best takes only its best run',
      names,
    )
    .requiredOption('--out <dir>', 'output directory')
    .option('--title <text>', 'title (default: the sources’ titles)')
    .option('--target <x>', 'target test loss (accuracy for classifiers)', number('--target'))
    .action(async (flags: ReportFlags) => combine(context, flags));
}
