/**
 * Command-line values: number parsers for commander and the mapping from algorithm flags
 * (`--damping`, `--inv-update-freq`, ...) to each optimizer's registry options. A flag goes to
 * the optimizers that accept it; a flag that none of the chosen optimizers accepts is an error.
 */
import { InvalidArgumentError } from 'commander';
import { optimizerOptionNames, type RegistryOptions } from 'eva-tfjs';

/** A commander parser for a finite number. */
export function number(flag: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed)) {
      throw new InvalidArgumentError(`${flag} must be a number, got '${value}'`);
    }
    return parsed;
  };
}

/** A commander parser for a positive integer. */
export function integer(flag: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1) {
      throw new InvalidArgumentError(`${flag} must be a positive integer, got '${value}'`);
    }
    return parsed;
  };
}

/** A commander parser for `--kl-clip`: a number or `none` (no clipping). */
export function klClip(value: string): number | null {
  if (value === 'none') return null;
  return number('--kl-clip')(value);
}

/** A comma-separated list of names. */
export function names(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `name=value,...` pairs of per-optimizer learning rates (`--lr-for sgd=0.5,eva=0.1`). */
export function learningRates(value: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const pair of names(value)) {
    const [name, lr] = pair.split('=');
    const parsed = Number(lr);
    if (!name || lr == null || !(parsed > 0)) {
      throw new InvalidArgumentError(
        `--lr-for expects name=value pairs with value > 0, got '${pair}'`,
      );
    }
    result[name.toLowerCase()] = parsed;
  }
  return result;
}

/** The optimizer-related flags every training command takes. */
export interface OptimizerFlags {
  lr: number;
  lrFor?: Record<string, number>;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  damping?: number;
  factorDecay?: number;
  klClip?: number | null;
  facUpdateFreq?: number;
  invUpdateFreq?: number;
  statsBatchSize?: number;
  mfacM?: number;
  blockSize?: number;
  linalg?: 'host' | 'newton';
}

/** Flag (camel-case commander key) -> registry option name. */
const FLAG_OPTIONS: Record<string, string> = {
  momentum: 'momentum',
  nesterov: 'nesterov',
  weightDecay: 'weightDecay',
  damping: 'damping',
  factorDecay: 'factorDecay',
  klClip: 'klClip',
  facUpdateFreq: 'facUpdateFreq',
  invUpdateFreq: 'invUpdateFreq',
  statsBatchSize: 'statsBatchSize',
  mfacM: 'm',
  blockSize: 'blockSize',
  linalg: 'linalg',
};

const kebab = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * Registry options of each optimizer in `optimizers` from the flags: every given flag goes to
 * the optimizers that accept it. Throws when a given flag is accepted by none of them, or when
 * `--lr-for` names an optimizer that is not being run.
 */
export function optimizerOptions(
  optimizers: string[],
  flags: OptimizerFlags,
): Map<string, RegistryOptions> {
  const result = new Map<string, RegistryOptions>();
  const used = new Set<string>();
  for (const name of optimizers) {
    const accepted = new Set(optimizerOptionNames(name));
    const options: RegistryOptions = {
      learningRate: flags.lrFor?.[name.toLowerCase()] ?? flags.lr,
    };
    for (const [flag, option] of Object.entries(FLAG_OPTIONS)) {
      const value = (flags as unknown as Record<string, unknown>)[flag];
      if (value === undefined || !accepted.has(option)) continue;
      options[option] = value;
      used.add(flag);
    }
    result.set(name, options);
  }
  for (const flag of Object.keys(FLAG_OPTIONS)) {
    const value = (flags as unknown as Record<string, unknown>)[flag];
    if (value !== undefined && !used.has(flag)) {
      throw new Error(`${kebab(flag)} is not an option of ${optimizers.join(', ')}`);
    }
  }
  for (const name of Object.keys(flags.lrFor ?? {})) {
    if (!optimizers.map((o) => o.toLowerCase()).includes(name)) {
      throw new Error(`--lr-for names '${name}', which is not among ${optimizers.join(', ')}`);
    }
  }
  return result;
}
