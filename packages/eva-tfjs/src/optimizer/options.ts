/**
 * Options declared once. Each optimizer option is one {@link OptionSpec}: its kind, default,
 * constraint and description. From the declarations come validation at construction (with
 * errors naming the option), the option lists of the registry, per-step resolution of options
 * that may be functions of the step, the saved configuration, the command line's flags and the
 * web demo's controls.
 */
import type { LayerFilter } from '../capture/layer-geometry.js';

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
/** `[0, 1)`: momentum-like decays. */
export const fraction: Constraint = { test: (v) => v >= 0 && v < 1, expected: 'in [0, 1)' };
/** a positive integer */
export const positiveInteger: Constraint = {
  test: (v) => Number.isInteger(v) && v >= 1,
  expected: 'a positive integer',
};

/** One option of an optimizer. */
export type OptionSpec =
  /** A constant number. */
  | {
      readonly kind: 'number';
      readonly default: number;
      readonly constraint: Constraint;
      readonly description: string;
    }
  /** A number or a function of the step (`nullable`: null turns the feature off). */
  | {
      readonly kind: 'schedule';
      readonly default: number | null;
      readonly constraint: Constraint;
      readonly nullable?: boolean;
      readonly description: string;
    }
  | { readonly kind: 'boolean'; readonly default: boolean; readonly description: string }
  | {
      readonly kind: 'choice';
      readonly default: string;
      readonly choices: readonly string[];
      readonly description: string;
    }
  /** Layer names or a predicate (skipLayers). */
  | { readonly kind: 'layers'; readonly description: string };

/** Named option declarations. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** The validated value of one option (schedules may still be functions). */
export type OptionValue<S extends OptionSpec> = S extends { kind: 'number' }
  ? number
  : S extends { kind: 'schedule'; nullable: true }
    ? Hyperparameter | null
    : S extends { kind: 'schedule' }
      ? Hyperparameter
      : S extends { kind: 'boolean' }
        ? boolean
        : S extends { kind: 'choice'; choices: readonly (infer C)[] }
          ? C
          : LayerFilter | undefined;

/** The value of one option at a step (schedules evaluated). */
export type StepValue<S extends OptionSpec> = S extends { kind: 'schedule'; nullable: true }
  ? number | null
  : S extends { kind: 'schedule' }
    ? number
    : OptionValue<S>;

/** Validated options. */
export type OptionValues<S extends OptionSpecs> = { -readonly [K in keyof S]: OptionValue<S[K]> };
/** Options resolved for one step. */
export type StepValues<S extends OptionSpecs> = { -readonly [K in keyof S]: StepValue<S[K]> };

/** Declares options (an identity that keeps the literal types for {@link OptionValues}). */
export function defineOptions<const S extends OptionSpecs>(specs: S): S {
  return specs;
}

/** Throws a clear error unless `value` is a finite number satisfying `constraint`. */
export function checkNumber(name: string, value: unknown, constraint: Constraint): number {
  if (value === undefined) throw new Error(`Option '${name}' is required (${constraint.expected})`);
  if (typeof value !== 'number') {
    const shown = typeof value === 'string' ? `the string '${value}'` : `a ${typeof value}`;
    throw new Error(`Option '${name}' must be a number ${constraint.expected}, got ${shown}`);
  }
  if (!Number.isFinite(value) || !constraint.test(value)) {
    throw new Error(`Option '${name}' must be ${constraint.expected}, got ${String(value)}`);
  }
  return value;
}

/** {@link checkNumber} for the learning rate, with a pointer to schedules for functions. */
export function checkLearningRate(owner: string, value: unknown): number {
  if (typeof value === 'function') {
    throw new Error(
      `${owner}: 'learningRate' must be a number; for a schedule use setLearningRate or ` +
        'warmupDecaySchedule (they drive the learning rate during training)',
    );
  }
  try {
    return checkNumber('learningRate', value, positive);
  } catch (e) {
    throw new Error(`${owner}: ${(e as Error).message}`, { cause: e });
  }
}

function checkValue(name: string, spec: OptionSpec, value: unknown): unknown {
  switch (spec.kind) {
    case 'number':
      return checkNumber(name, value, spec.constraint);
    case 'schedule':
      if (value === null && spec.nullable) return null;
      if (typeof value === 'function') return value;
      if (typeof value === 'string' && spec.nullable && value.toLowerCase() === 'none') {
        throw new Error(`Option '${name}' is off with null (not '${value}')`);
      }
      return checkNumber(name, value, spec.constraint);
    case 'boolean':
      if (typeof value !== 'boolean') {
        const shown = typeof value === 'string' ? `the string '${value}'` : String(value);
        throw new Error(`Option '${name}' must be true or false, got ${shown}`);
      }
      return value;
    case 'choice':
      if (!spec.choices.includes(value as string)) {
        const quoted = spec.choices.map((c) => `'${c}'`);
        const expected = quoted.length === 2 ? quoted.join(' or ') : `one of ${quoted.join(', ')}`;
        throw new Error(`Option '${name}' must be ${expected}, got ${String(value)}`);
      }
      return value;
    case 'layers':
      if (
        value !== undefined &&
        typeof value !== 'function' &&
        !(Array.isArray(value) && value.every((v) => typeof v === 'string'))
      ) {
        throw new Error(
          `Option '${name}' must be an array of layer names or a predicate, got ${String(value)}`,
        );
      }
      return value;
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

/**
 * Validates `options` against `specs` (unknown names are errors listing the valid ones; constant
 * values are checked now, functions of the step when they are resolved) and fills in defaults.
 * `undefined` counts as not given.
 */
export function validateOptions<S extends OptionSpecs>(
  owner: string,
  specs: S,
  options: Record<string, unknown>,
): OptionValues<S> {
  if (options == null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`${owner}: options must be an object, got ${String(options)}`);
  }
  rejectUnknownOptions(owner, options, Object.keys(specs));
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const given = options[name];
    const value = given === undefined ? ('default' in spec ? spec.default : undefined) : given;
    try {
      values[name] = checkValue(name, spec, value);
    } catch (e) {
      throw new Error(`${owner}: ${(e as Error).message}`, { cause: e });
    }
  }
  return values as OptionValues<S>;
}

/** The options' values at `step`: functions of the step are evaluated and checked. */
export function resolveOptions<S extends OptionSpecs>(
  owner: string,
  specs: S,
  values: OptionValues<S>,
  step: number,
): StepValues<S> {
  const resolved: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = (values as Record<string, unknown>)[name];
    if (spec.kind !== 'schedule' || typeof value !== 'function') {
      resolved[name] = value;
      continue;
    }
    const at = (value as (step: number) => number)(step);
    try {
      resolved[name] = checkNumber(name, at, spec.constraint);
    } catch (e) {
      throw new Error(
        `${owner}: ${(e as Error).message} (returned by its function at step ${step})`,
        { cause: e },
      );
    }
  }
  return resolved as StepValues<S>;
}

/** What to do with a step whose gradients or statistics contain NaN or Infinity. */
export type NonFinitePolicy = 'skip' | 'throw';

/** The non-finite policy, an option of every optimizer of the library. */
export const NON_FINITE_OPTION = defineOptions({
  onNonFinite: {
    kind: 'choice',
    default: 'skip',
    choices: ['skip', 'throw'],
    description: 'a step with NaN/Infinity in gradients or statistics: skip it, or throw',
  },
});

/** Whether something runs on (0-based) step `step` when it runs every `interval` steps. */
export function every(interval: number, step: number): boolean {
  return step % interval === 0;
}

/**
 * `true` when the options interface `O` and the declarations `S` name the same options (a
 * compile-time check that an interface and its declarations agree); `never` otherwise.
 */
export type AssertDeclared<O, S> = [Exclude<keyof O, keyof S>, Exclude<keyof S, keyof O>] extends [
  never,
  never,
]
  ? true
  : never;
