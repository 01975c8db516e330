/**
 * Per-optimizer option controls, derived from the registry: for each chosen optimizer, one
 * field for each option of {@link EXPOSED_OPTIONS} that the optimizer declares, with the
 * declared default as its value and the declared description as its title. Which optimizers
 * get which controls is never listed here; a newly registered optimizer that declares
 * `damping` gets a damping field.
 */
import { optimizerEntry, type OptionSpec } from 'eva-tfjs';

/** The shared tunable numeric options the demo exposes as controls (where declared). */
export const EXPOSED_OPTIONS = ['damping', 'klClip'] as const;

/** A numeric declaration: a constant or a schedule. */
type NumericSpec = Extract<OptionSpec, { kind: 'number' | 'schedule' }>;

/** The exposed options `optimizer` declares as numbers, with their declarations. */
export function exposedOptions(optimizer: string): Array<[string, NumericSpec]> {
  const specs = optimizerEntry(optimizer).options;
  return EXPOSED_OPTIONS.flatMap((name): Array<[string, NumericSpec]> => {
    const spec = name in specs ? specs[name] : undefined;
    return spec?.kind === 'number' || spec?.kind === 'schedule' ? [[name, spec]] : [];
  });
}

function isNullable(spec: NumericSpec): boolean {
  return spec.kind === 'schedule' && spec.nullable === true;
}

/**
 * The value of a field: for a nullable option, empty or `none` is null (the feature off); for
 * another, empty is undefined (the declared default). Anything else is a number, NaN if it is
 * not one (the optimizer's validation then names the option).
 */
export function parseOptionValue(text: string, nullable: boolean): number | null | undefined {
  const trimmed = text.trim();
  if (trimmed === '' || (nullable && trimmed.toLowerCase() === 'none')) {
    return nullable ? null : undefined;
  }
  return Number(trimmed);
}

interface Field {
  input: HTMLInputElement;
  spec: NumericSpec;
}

/** One optimizer's row of fields. */
interface Row {
  element: HTMLElement;
  fields: Map<string, Field>;
}

function field(
  optimizer: string,
  option: string,
  spec: NumericSpec,
): Field & { label: HTMLElement } {
  const nullable = isNullable(spec);
  const input = document.createElement('input');
  input.id = `option-${optimizer}-${option}`;
  input.name = option;
  // A nullable option takes the word `none`, so its field is text.
  input.type = nullable ? 'text' : 'number';
  if (nullable) {
    input.inputMode = 'decimal';
    input.placeholder = 'none';
  } else {
    input.step = 'any';
  }
  input.value = spec.default == null ? '' : String(spec.default);
  input.title = spec.description;
  input.addEventListener('input', () => {
    const value = parseOptionValue(input.value, nullable);
    const valid =
      value == null
        ? !input.validity.badInput
        : Number.isFinite(value) && spec.constraint.test(value);
    input.setCustomValidity(valid ? '' : `${option} must be ${spec.constraint.expected}`);
  });
  const label = document.createElement('label');
  label.title = spec.description;
  label.append(option, input);
  return { input, spec, label };
}

/** The option fields of the chosen optimizers. */
export class OptionControls {
  private readonly rows = new Map<string, Row | null>();

  /** `fieldset` is hidden while no chosen optimizer has a control; rows go in `container`. */
  constructor(
    private readonly fieldset: HTMLElement,
    private readonly container: HTMLElement,
  ) {}

  /**
   * Shows the fields of `optimizers`, in that order. Each optimizer's row is built on first use
   * and kept, so edited values survive a change of the selection.
   */
  show(optimizers: readonly string[]): void {
    const rows = optimizers.flatMap((name) => {
      const row = this.rowOf(name);
      return row == null ? [] : [row.element];
    });
    this.fieldset.hidden = rows.length === 0;
    // Rows already in place stay put: detaching a focused field would fire its change event
    // (and a rebuild) in the middle of this one.
    const current = [...this.container.children];
    if (current.length === rows.length && current.every((child, i) => child === rows[i])) return;
    this.container.replaceChildren(...rows);
  }

  /** The values of `optimizer`'s fields by option name (empty without fields). */
  values(optimizer: string): Record<string, number | null | undefined> {
    const row = this.rowOf(optimizer);
    if (row == null) return {};
    return Object.fromEntries(
      [...row.fields].map(([option, { input, spec }]) => [
        option,
        input.validity.badInput ? NaN : parseOptionValue(input.value, isNullable(spec)),
      ]),
    );
  }

  private rowOf(optimizer: string): Row | null {
    if (!this.rows.has(optimizer)) this.rows.set(optimizer, this.buildRow(optimizer));
    return this.rows.get(optimizer)!;
  }

  private buildRow(optimizer: string): Row | null {
    const options = exposedOptions(optimizer);
    if (options.length === 0) return null;
    const element = document.createElement('div');
    element.className = 'option-row';
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = optimizer;
    element.append(name);
    const fields = new Map<string, Field>();
    for (const [option, spec] of options) {
      const { label, ...made } = field(optimizer, option, spec);
      element.append(label);
      fields.set(option, made);
    }
    return { element, fields };
  }
}
