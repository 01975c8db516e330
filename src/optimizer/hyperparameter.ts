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
