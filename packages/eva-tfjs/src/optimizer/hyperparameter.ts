/**
 * Hyper-parameters that are a number or a function of the optimizer step (as in kfac-pytorch),
 * with validation that names the option.
 */

/** A constant, or a function of the (0-based) optimizer step. */
export type Hyperparameter = number | ((step: number) => number);

/** A numeric constraint with a human-readable description for error messages. */
export interface Constraint {
  readonly test: (value: number) => boolean;
  readonly expected: string;
}

/** `> 0` */
export const positive: Constraint = { test: (v) => v > 0, expected: '> 0' };
/** `>= 0` */
export const nonNegative: Constraint = { test: (v) => v >= 0, expected: '>= 0' };
/** `(0, 1]` */
export const unitInterval: Constraint = { test: (v) => v > 0 && v <= 1, expected: 'in (0, 1]' };
/** a positive integer */
export const positiveInteger: Constraint = {
  test: (v) => Number.isInteger(v) && v >= 1,
  expected: 'a positive integer',
};

/** Throws a clear error unless `value` is a finite number satisfying `constraint`. */
export function checkNumber(name: string, value: unknown, constraint: Constraint): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !constraint.test(value)) {
    throw new Error(`Option '${name}' must be ${constraint.expected}, got ${String(value)}`);
  }
  return value;
}

/** Validates a constant at construction; a function is checked each time it is resolved. */
export function checkHyperparameter(
  name: string,
  value: unknown,
  constraint: Constraint,
): Hyperparameter {
  if (typeof value === 'function') return value as (step: number) => number;
  return checkNumber(name, value, constraint);
}

/** The value of a hyper-parameter at `step`, validated. */
export function resolveHyperparameter(
  name: string,
  value: Hyperparameter,
  step: number,
  constraint: Constraint,
): number {
  if (typeof value === 'number') return value;
  const resolved = value(step);
  try {
    return checkNumber(name, resolved, constraint);
  } catch (e) {
    throw new Error(`${(e as Error).message} (returned by its function at step ${step})`, {
      cause: e,
    });
  }
}

/** Throws if `options` holds a key that is not in `known`, listing the valid ones. */
export function rejectUnknownOptions(
  owner: string,
  options: object,
  known: readonly string[],
): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new Error(
        `${owner}: unknown option '${key}'; valid options are ${[...known].sort().join(', ')}`,
      );
    }
  }
}

/** Throws unless `value` is a boolean. */
export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new Error(`Option '${name}' must be true or false, got ${String(value)}`);
  }
  return value;
}

/** Throws unless `value` is one of `allowed`. */
export function checkChoice<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (!allowed.includes(value as T)) {
    throw new Error(`Option '${name}' must be one of ${allowed.join(', ')}, got ${String(value)}`);
  }
  return value as T;
}

/** Damping and factor decay, the two hyper-parameters every curvature estimate has. */
export interface CurvatureHyperparameters {
  damping: Hyperparameter;
  factorDecay: Hyperparameter;
}

/** Validates `damping` (> 0, default 0.03) and `factorDecay` (in (0, 1], default 0.95). */
export function curvatureOptions(options: {
  damping?: Hyperparameter;
  factorDecay?: Hyperparameter;
}): CurvatureHyperparameters {
  return {
    damping: checkHyperparameter('damping', options.damping ?? 0.03, positive),
    factorDecay: checkHyperparameter('factorDecay', options.factorDecay ?? 0.95, unitInterval),
  };
}

/** Damping and factor decay at `step`. */
export function resolveCurvature(
  h: CurvatureHyperparameters,
  step: number,
): { damping: number; factorDecay: number } {
  return {
    damping: resolveHyperparameter('damping', h.damping, step, positive),
    factorDecay: resolveHyperparameter('factorDecay', h.factorDecay, step, unitInterval),
  };
}

/** Validates the KL-clipping threshold (>= 0, default 0.001; null disables clipping). */
export function klClipOption(value: Hyperparameter | null | undefined): Hyperparameter | null {
  return value === null ? null : checkHyperparameter('klClip', value ?? 0.001, nonNegative);
}

/** The KL-clipping threshold at `step` (null when disabled). */
export function resolveKlClip(value: Hyperparameter | null, step: number): number | null {
  return value == null ? null : resolveHyperparameter('klClip', value, step, nonNegative);
}
