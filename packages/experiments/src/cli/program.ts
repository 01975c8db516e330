/**
 * The eva-tfjs program: its commands, each with its own flags, plus the optimizer flags derived
 * from the registry (as it is when the program is built, plugins included) on the training
 * commands, and `--plugin` everywhere.
 */
import { Command } from 'commander';
import { benchCommand } from './commands/bench.js';
import { compareCommand } from './commands/compare.js';
import { reportCommand } from './commands/report.js';
import { sweepCommand } from './commands/sweep.js';
import { trainCommand } from './commands/train.js';
import type { CliContext } from './context.js';
import { addOptimizerFlags, deriveOptimizerFlags } from './optimizer-flags.js';
import { pluginOption } from './plugins.js';
import { checkLaunch } from './validation.js';

const PLUGIN_TEXT = `
Plugins:
  --plugin <module> (on any command, repeatable) imports a module before the flags are read:
  a file (relative to the current directory) or a package. A module that calls
  registerOptimizer from eva-tfjs adds its optimizer to --optimizer(s) and each of its
  options as a flag, e.g.
    eva-tfjs train --plugin ./my-optimizer.mjs --optimizer mine --my-option 2`;

/** The program; `context` is what its commands share. */
export function buildProgram(context: CliContext): Command {
  const program = new Command()
    .name('eva-tfjs')
    .description('Second-order optimizers for TensorFlow.js: the experiments of the Eva paper')
    .showHelpAfterError()
    // mpirun -np N without --distributed: refused before anything runs.
    .hook('preAction', (_program, command) =>
      checkLaunch(command.name(), command.opts().distributed as boolean | undefined),
    )
    .addOption(pluginOption())
    .addHelpText('after', PLUGIN_TEXT);
  const training = [trainCommand(context), compareCommand(context), sweepCommand(context)];
  const commands = [...training, reportCommand(context), benchCommand(context)];
  for (const command of commands) command.copyInheritedSettings(program).addOption(pluginOption());
  // Optimizer options whose flag a command already has take their optimizer's prefix.
  const taken = training.flatMap((c) => c.options.map((o) => o.long?.replace(/^--/, '') ?? ''));
  const flags = deriveOptimizerFlags(new Set([...taken, 'help']));
  for (const command of training) addOptimizerFlags(command, flags);
  for (const command of commands) {
    program.addCommand(command, { isDefault: command.name() === 'compare' });
  }
  return program;
}
