/**
 * The optimizer flags, derived from the registry: every option any registered optimizer
 * declares (besides `learningRate`, which is `--lr`) becomes one kebab-case flag whose parser,
 * help text and sweepability come from its declaration. A given flag goes to the chosen
 * optimizers that declare it; a flag that none of them takes is an error.
 *
 * Naming: `klClip` -> `--kl-clip`. An option whose name has one or two characters is prefixed
 * with its optimizer (M-FAC's `m` -> `--mfac-m`), and so is an option whose name is taken by
 * the command's own flags or, with another kind, by an earlier optimizer's option.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  optimizerEntry,
  optimizerNames,
  type Constraint,
  type OptionSpec,
  type RegistryOptions,
} from 'eva-tfjs';
import { names } from './parsers.js';

/** How a flag takes its value: schedules are numbers on a command line. */
export type FlagKind = 'number' | 'boolean' | 'choice' | 'layers';

/** One derived flag. */
export interface OptimizerFlag {
  /** `--kl-clip` */
  readonly flag: string;
  /** `kl-clip` (also the sweep parameter's name) */
  readonly name: string;
  /** The registry option it sets (`klClip`). */
  readonly option: string;
  readonly kind: FlagKind;
  /** The declaration of each optimizer that takes it, in registration order. */
  readonly specs: ReadonlyMap<string, OptionSpec>;
  /** A default of the command line itself (weight decay), instead of each optimizer's own. */
  readonly runDefault?: unknown;
  /** Parses a command-line value (throws InvalidArgumentError naming the flag). */
  parse(value: string): unknown;
  /** Throws unless `value` suits optimizer `name`'s declaration. */
  check(name: string, value: unknown): void;
}

/** A value of an optimizer flag (given, or the command line's default). */
export interface FlagValue {
  readonly value: unknown;
  readonly fromDefault: boolean;
}

/** The optimizer flags' values of one run, by flag. */
export type FlagValues = ReadonlyMap<OptimizerFlag, FlagValue>;

/**
 * Defaults of the command line that differ from the optimizers' own (by option name): the
 * paper's weight decay. (The base momentum 0.9 is every optimizer's own default.)
 */
const RUN_DEFAULTS: Readonly<Record<string, unknown>> = { weightDecay: 5e-4 };

/** `klClip` -> `kl-clip` */
export function kebab(option: string): string {
  return option.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

const kindOf = (spec: OptionSpec): FlagKind => (spec.kind === 'schedule' ? 'number' : spec.kind);

/** `> 0` -> `a number > 0`; `a positive integer` stays. */
const expectedText = (constraint: Constraint): string =>
  /^an? /.test(constraint.expected) ? constraint.expected : `a number ${constraint.expected}`;

const nullable = (spec: OptionSpec): boolean => spec.kind === 'schedule' && spec.nullable === true;

const defaultOf = (spec: OptionSpec): unknown => ('default' in spec ? spec.default : undefined);

/** A flag value as typed on a command line (`null` -> `none`). */
export function formatValue(value: unknown): string {
  if (value === null) return 'none';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

function numberParser(flag: string, specs: readonly OptionSpec[]) {
  const takesNone = specs.some(nullable);
  const constraints = new Map<string, Constraint>();
  for (const spec of specs) {
    if (spec.kind === 'number' || spec.kind === 'schedule') {
      constraints.set(spec.constraint.expected, spec.constraint);
    }
  }
  // One constraint for every optimizer: checked here; otherwise per optimizer (see check).
  const shared = constraints.size === 1 ? [...constraints.values()][0]! : null;
  const none = takesNone ? " or 'none'" : '';
  return (value: string): number | null => {
    if (takesNone && value === 'none') return null;
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed) || (shared && !shared.test(parsed))) {
      const expected = shared ? expectedText(shared) : 'a number';
      throw new InvalidArgumentError(`${flag} must be ${expected}${none}, got '${value}'`);
    }
    return parsed;
  };
}

function parserFor(flag: string, kind: FlagKind, specs: readonly OptionSpec[]) {
  switch (kind) {
    case 'number':
      return numberParser(flag, specs);
    case 'layers':
      return (value: string): string[] => names(value);
    case 'choice':
    case 'boolean':
      return (value: string): string => value;
  }
}

function checkerFor(flag: string) {
  return (name: string, spec: OptionSpec, value: unknown): void => {
    switch (spec.kind) {
      case 'number':
      case 'schedule':
        if (value === null) {
          if (!nullable(spec)) throw new Error(`${flag} none: ${name} cannot turn it off`);
        } else if (typeof value !== 'number' || !spec.constraint.test(value)) {
          throw new Error(
            `${flag} must be ${expectedText(spec.constraint)} for ${name}, got ${formatValue(value)}`,
          );
        }
        return;
      case 'choice':
        if (!spec.choices.includes(value as string)) {
          throw new Error(
            `${flag} must be one of ${spec.choices.join(', ')} for ${name}, got ${formatValue(value)}`,
          );
        }
        return;
      case 'boolean':
      case 'layers':
        return;
    }
  };
}

/** Groups `items` by `key` (first-appearance order). */
function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}

/**
 * Help text: each description with the optimizers that take it, then the optimizers' default
 * (`default 0.9`; `default false, true for evas, shampoo` when they differ).
 */
function helpText(flag: OptimizerFlag): string {
  const entries = [...flag.specs];
  const described = [...groupBy(entries, ([, spec]) => spec.description)]
    .map(([description, group]) => `${description} (${group.map(([n]) => n).join(', ')})`)
    .join('; ');
  if (flag.runDefault !== undefined || flag.kind === 'layers') return described;
  // The most common default first, then the others with their optimizers.
  const [usual, ...others] = [...groupBy(entries, ([, spec]) => formatValue(defaultOf(spec)))].sort(
    (a, b) => b[1].length - a[1].length,
  );
  const exceptions = others.map(([v, group]) => `, ${v} for ${group.map(([n]) => n).join(', ')}`);
  return `${described}; default ${usual![0]}${exceptions.join('')}`;
}

interface Draft {
  name: string;
  option: string;
  kind: FlagKind;
  specs: Map<string, OptionSpec>;
}

/**
 * The flags of every option of every registered optimizer (the union over `optimizerNames()`,
 * in registration order). `reserved`: the commands' own flag names (without `--`), which an
 * option then takes prefixed with its optimizer.
 */
export function deriveOptimizerFlags(reserved: ReadonlySet<string> = new Set()): OptimizerFlag[] {
  const drafts = new Map<string, Draft>();
  for (const optimizer of optimizerNames()) {
    for (const [option, spec] of Object.entries(optimizerEntry(optimizer).options)) {
      if (option === 'learningRate') continue;
      const kind = kindOf(spec);
      const prefixed = `${optimizer}-${kebab(option)}`;
      let name = option.length <= 2 ? prefixed : kebab(option);
      const taken = drafts.get(name);
      if (reserved.has(name) || (taken && (taken.option !== option || taken.kind !== kind))) {
        name = prefixed;
      }
      const draft = drafts.get(name);
      if (draft == null) {
        if (reserved.has(name)) {
          throw new Error(
            `Option '${option}' of optimizer '${optimizer}' has no free flag name ` +
              `(--${kebab(option)} and --${prefixed} are taken)`,
          );
        }
        drafts.set(name, { name, option, kind, specs: new Map([[optimizer, spec]]) });
      } else if (draft.option === option && draft.kind === kind) {
        draft.specs.set(optimizer, spec);
      } else {
        throw new Error(
          `Option '${option}' of optimizer '${optimizer}' has no free flag name ` +
            `(--${prefixed} is taken by option '${draft.option}')`,
        );
      }
    }
  }
  return [...drafts.values()].map(({ name, option, kind, specs }) => {
    const flag = `--${name}`;
    const list = [...specs.values()];
    const checkOne = checkerFor(flag);
    return {
      flag,
      name,
      option,
      kind,
      specs,
      runDefault: name === kebab(option) ? RUN_DEFAULTS[option] : undefined,
      parse: parserFor(flag, kind, list),
      check: (optimizer: string, value: unknown) =>
        checkOne(optimizer, specs.get(optimizer)!, value),
    };
  });
}

/** `none` of a nullable option, while commander holds it. */
const NONE = Symbol('none');

/** A commander option carrying the optimizer flag it was derived from. */
export class OptimizerFlagOption extends Option {
  constructor(
    flags: string,
    description: string,
    readonly derived: OptimizerFlag,
  ) {
    super(flags, description);
  }
}

/** The commander options of one flag (`--x` and `--no-x` for booleans). */
function commanderOptions(flag: OptimizerFlag): OptimizerFlagOption[] {
  const help = helpText(flag);
  const group = 'Optimizer options (each goes to the chosen optimizers that take it):';
  const specs = [...flag.specs.values()];
  let options: OptimizerFlagOption[];
  switch (flag.kind) {
    case 'boolean':
      options = [
        new OptimizerFlagOption(flag.flag, help, flag),
        new OptimizerFlagOption(`--no-${flag.name}`, `turns ${flag.flag} off`, flag),
      ];
      break;
    case 'choice': {
      const choices = [...new Set(specs.flatMap((s) => (s.kind === 'choice' ? s.choices : [])))];
      options = [new OptimizerFlagOption(`${flag.flag} <choice>`, help, flag).choices(choices)];
      break;
    }
    case 'layers':
      options = [
        new OptimizerFlagOption(`${flag.flag} <names>`, `${help}; comma-separated`, flag).argParser(
          flag.parse,
        ),
      ];
      break;
    case 'number': {
      const integer = specs.every(
        (s) =>
          (s.kind === 'number' || s.kind === 'schedule') && /integer/.test(s.constraint.expected),
      );
      const placeholder = `<${integer ? 'n' : 'x'}${specs.some(nullable) ? '|none' : ''}>`;
      options = [new OptimizerFlagOption(`${flag.flag} ${placeholder}`, help, flag)];
      // commander turns a parser's null into '': carry `none` as a marker (see flagValues).
      options[0]!.argParser((value: string) => flag.parse(value) ?? NONE);
      break;
    }
  }
  if (flag.runDefault !== undefined) options[0]!.default(flag.runDefault);
  return options.map((o) => o.helpGroup(group));
}

/** Adds the optimizer flags to `command`. */
export function addOptimizerFlags(command: Command, flags: readonly OptimizerFlag[]): Command {
  for (const flag of flags) for (const option of commanderOptions(flag)) command.addOption(option);
  return command;
}

/** The optimizer flags of `command` (in declaration order). */
export function optimizerFlagsOf(command: Command): OptimizerFlag[] {
  const flags = command.options
    .filter((o): o is OptimizerFlagOption => o instanceof OptimizerFlagOption)
    .map((o) => o.derived);
  return [...new Set(flags)];
}

/** The values of `command`'s optimizer flags that were given or have a command-line default. */
export function flagValues(command: Command): Map<OptimizerFlag, FlagValue> {
  const values = new Map<OptimizerFlag, FlagValue>();
  const seen = new Set<string>();
  for (const option of command.options) {
    if (!(option instanceof OptimizerFlagOption)) continue;
    const key = option.attributeName();
    if (seen.has(key)) continue;
    seen.add(key);
    const value: unknown = command.getOptionValue(key);
    if (value === undefined) continue;
    values.set(option.derived, {
      value: value === NONE ? null : value,
      fromDefault: command.getOptionValueSource(key) === 'default',
    });
  }
  return values;
}

/** The value of the (unprefixed) flag of option `option`, if any. */
export function valueOf(values: FlagValues, option: string): unknown {
  for (const [flag, { value }] of values) {
    if (flag.option === option && flag.name === kebab(option)) return value;
  }
  return undefined;
}

/** The learning rates and optimizer flags of a run. */
export interface OptimizerSettings {
  lr: number;
  /** Per-optimizer learning rates (`--lr-for`). */
  lrFor?: Record<string, number>;
  flags: FlagValues;
}

/**
 * The registry options of each optimizer in `optimizers`: `learningRate` from `--lr`/`--lr-for`,
 * then every flag value it takes, in its declaration order. Throws when a given flag is taken
 * by none of them (a command-line default is then left out), when a value does not suit an
 * optimizer that takes it, or when `--lr-for` names an optimizer that is not being run.
 */
export function optimizerOptions(
  optimizers: readonly string[],
  settings: OptimizerSettings,
): Map<string, RegistryOptions> {
  const result = new Map<string, RegistryOptions>();
  const used = new Set<OptimizerFlag>();
  for (const name of optimizers) {
    const entry = optimizerEntry(name);
    const options: RegistryOptions = {
      learningRate: settings.lrFor?.[name.toLowerCase()] ?? settings.lr,
    };
    const byOption = new Map<string, [OptimizerFlag, FlagValue]>();
    for (const [flag, value] of settings.flags) {
      if (flag.specs.has(entry.name)) byOption.set(flag.option, [flag, value]);
    }
    for (const option of Object.keys(entry.options)) {
      const given = byOption.get(option);
      if (given == null) continue;
      const [flag, { value }] = given;
      flag.check(entry.name, value);
      options[option] = value;
      used.add(flag);
    }
    result.set(name, options);
  }
  for (const [flag, { fromDefault }] of settings.flags) {
    if (used.has(flag) || fromDefault) continue;
    throw new Error(
      `${flag.flag} is not an option of ${optimizers.join(', ')} ` +
        `(it is one of ${[...flag.specs.keys()].join(', ')})`,
    );
  }
  for (const name of Object.keys(settings.lrFor ?? {})) {
    if (!optimizers.map((o) => o.toLowerCase()).includes(name)) {
      throw new Error(`--lr-for names '${name}', which is not among ${optimizers.join(', ')}`);
    }
  }
  return result;
}
