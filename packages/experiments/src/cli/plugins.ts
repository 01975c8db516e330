/**
 * Plugins: modules named by `--plugin <module>` are imported before the program is built, so
 * an optimizer one registers (`registerOptimizer`) is a choice of `--optimizer` and its
 * options are flags like the built-in ones.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Option } from 'commander';

/** What the help says about plugins. */
export const PLUGIN_HELP =
  'module to import first (repeatable): a file, relative to the current directory, or a ' +
  'package; one that calls registerOptimizer from eva-tfjs adds its optimizer and its ' +
  "options' flags";

/** The `--plugin` option (read by {@link pluginArguments} before commander parses). */
export function pluginOption(): Option {
  return new Option('--plugin <module>', PLUGIN_HELP).argParser(
    (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
  );
}

/** The modules of every `--plugin <module>` and `--plugin=<module>` in `args` (before `--`). */
export function pluginArguments(args: readonly string[]): string[] {
  const modules: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') break;
    if (arg === '--plugin') {
      const next = args[i + 1];
      if (next == null || next.startsWith('-')) throw new Error('--plugin needs a module');
      modules.push(next);
      i++;
    } else if (arg.startsWith('--plugin=')) {
      modules.push(arg.slice('--plugin='.length));
    }
  }
  return modules;
}

/**
 * The import specifier of `module`: a file URL for a path (relative to `cwd`), the name itself
 * for a package.
 */
export function pluginSpecifier(module: string, cwd = process.cwd()): string {
  const path = resolve(cwd, module);
  const isPath =
    module.startsWith('.') ||
    isAbsolute(module) ||
    /\.[cm]?[jt]s$/.test(module) ||
    existsSync(path);
  return isPath ? pathToFileURL(path).href : module;
}

/** Imports each module in turn; errors name the module. */
export async function loadPlugins(modules: readonly string[], cwd = process.cwd()): Promise<void> {
  for (const module of modules) {
    try {
      await import(pluginSpecifier(module, cwd));
    } catch (e) {
      throw new Error(`--plugin ${module}: ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
      });
    }
  }
}
