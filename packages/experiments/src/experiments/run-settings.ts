/**
 * The settings of a run as they take effect: the optimizer's options with its declared defaults
 * filled in (an explicit default equals an omitted one), and the differences between two runs'
 * settings, named like the command line's flags (`lr: saved 0.1, now 0.05`).
 */
import { optimizerEntry, validateOptions, type RegistryOptions } from 'eva-tfjs';

/** `klClip` -> `kl-clip` */
const kebab = (name: string): string => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

/**
 * The options optimizer `name` runs with: `learningRate` (checked > 0) and every declared
 * option, given or defaulted, each checked against its declaration; throws a clear error
 * naming the optimizer and the option otherwise. A second-order method's default Nesterov
 * momentum is off with momentum 0 (as the registry builds it).
 */
export function resolvedOptimizerOptions(
  name: string,
  options: Readonly<RegistryOptions>,
): RegistryOptions {
  const entry = optimizerEntry(name);
  const { learningRate, ...rest } = options;
  if (typeof learningRate !== 'number' || !Number.isFinite(learningRate) || !(learningRate > 0)) {
    throw new Error(`${entry.name}: the learning rate must be a number > 0, got ${learningRate}`);
  }
  const given = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  const values = validateOptions(entry.name, entry.options, given) as Record<string, unknown>;
  if ('momentum' in values && 'nesterov' in values && given.nesterov === undefined) {
    if (values.momentum === 0) values.nesterov = false;
  }
  return { learningRate, ...values };
}

/** A value as typed on a command line (`null` -> `none`). */
function shown(value: unknown): string {
  if (value === null) return 'none';
  if (value === undefined) return 'unset';
  if (Array.isArray(value)) return value.map(String).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The names under which run settings are shown (the command line's flags). */
const SETTING_NAMES: Readonly<Record<string, string>> = {
  trainCount: 'training samples',
  batchSize: 'batch-size',
  warmupEpochs: 'warmup-epochs',
  decay: 'schedule',
};

/** `optimizerOptions` of `settings` resolved (as given when the optimizer is unknown now). */
function resolvedOf(settings: Record<string, unknown>): Record<string, unknown> {
  const options = settings.optimizerOptions as RegistryOptions | undefined;
  if (options == null || typeof settings.optimizer !== 'string') return options ?? {};
  try {
    return resolvedOptimizerOptions(settings.optimizer, options);
  } catch {
    return options;
  }
}

/**
 * The differences between a checkpoint's settings and this run's, one `name: saved x, now y`
 * per differing setting (optimizer options compared with their defaults filled in; when the
 * optimizers differ, only that); empty when they agree.
 */
export function settingDifferences(
  saved: Record<string, unknown>,
  now: Record<string, unknown>,
): string[] {
  const differences: string[] = [];
  const differ = (a: unknown, b: unknown) => JSON.stringify(a) !== JSON.stringify(b);
  const keys = [...new Set([...Object.keys(now), ...Object.keys(saved)])];
  for (const key of keys) {
    if (key === 'optimizerOptions') continue;
    if (differ(saved[key], now[key])) {
      differences.push(
        `${SETTING_NAMES[key] ?? key}: saved ${shown(saved[key])}, now ${shown(now[key])}`,
      );
    }
  }
  if (saved.optimizer !== now.optimizer) return differences;
  const [a, b] = [resolvedOf(saved), resolvedOf(now)];
  for (const key of [...new Set([...Object.keys(b), ...Object.keys(a)])]) {
    if (differ(a[key], b[key])) {
      const name = key === 'learningRate' ? 'lr' : kebab(key);
      differences.push(`${name}: saved ${shown(a[key])}, now ${shown(b[key])}`);
    }
  }
  return differences;
}
