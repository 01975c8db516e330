#!/usr/bin/env node
/**
 * The eva-tfjs command line: the paper's experiments, one command each (see commands/).
 * - `train`: one model, one dataset, one optimizer; progress, per-epoch metrics, JSON log,
 *   checkpoints and `--resume`.
 * - `compare` (the default, what `npm start` runs): several optimizers on the same task and
 *   seed; writes a report (Markdown summary, time to target, SVG plots).
 * - `bench`: per-iteration time and memory of optimizers relative to SGD.
 * - `sweep`: one setting over a list of values, reported like `compare`.
 *
 * The `--plugin` modules are imported first, so the optimizers they register get flags too.
 * Ctrl-C (SIGINT) and SIGTERM end it with 130 and 143 after stopping the progress bar and
 * releasing the output directory; the last checkpoint stays usable. A `--distributed` command
 * first restarts itself with V8's single-threaded GC (see rank-process.ts).
 */
import { restartAsRankProcess } from './rank-process.js';

// The restart comes before the CLI's modules load (tfjs, the commands, the MPI addon): the
// parent only waits for its child, so it should neither take their start-up time nor their memory.
if (!restartAsRankProcess()) {
  const [{ CliContext }, { loadPlugins, pluginArguments }, { buildProgram }] = await Promise.all([
    import('./context.js'),
    import('./plugins.js'),
    import('./program.js'),
  ]);
  const args = process.argv.slice(2);
  const context = new CliContext(args);
  context.handleInterrupts();
  try {
    await loadPlugins(pluginArguments(args));
    await buildProgram(context).parseAsync(process.argv);
  } catch (e) {
    context.fail(e);
  }
}
