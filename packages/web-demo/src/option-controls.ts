/**
 * Per-optimizer controls: for each chosen optimizer, its learning rate (starting at its tuned
 * value, marked "tuned", see tuned-settings.ts) and, derived from the registry, one field for
 * each option of {@link EXPOSED_OPTIONS} that the optimizer declares, with the declared default
 * as its value and the declared description as its title. Which optimizers get which controls
 * is never listed here; a newly registered optimizer that declares `damping` gets a damping
 * field.
 */
import { optimizerEntry, type OptionSpec } from 'eva-tfjs';
import type { ModelKind } from './runs.js';
import { initialLearningRateOf, type TunedLearningRate } from './tuned-settings.js';
import type { UrlParams } from './url-params.js';

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
  learningRate: LearningRateField;
  fields: Map<string, Field>;
}

/**
 * The learning-rate field of an optimizer, followed by a mark: "tuned" while it holds the tuned
 * value for the model, the tuned value otherwise, "untuned" for an optimizer without one.
 */
class LearningRateField {
  readonly label = document.createElement('label');
  readonly input = document.createElement('input');
  private readonly mark = document.createElement('span');
  private tuned: TunedLearningRate | undefined;

  /** A field for `optimizer`; `fromUrl` (if given) replaces the tuned value. */
  constructor(
    private readonly optimizer: string,
    private readonly fromUrl: string | undefined,
  ) {
    this.input.id = `option-${optimizer}-learningRate`;
    this.input.name = 'learningRate';
    this.input.type = 'number';
    this.input.step = 'any';
    this.input.min = '0';
    this.mark.className = 'tuned';
    this.input.addEventListener('input', () => this.showMark());
    this.label.title = 'the peak learning rate (reached at the end of the warm-up)';
    const line = document.createElement('span');
    line.className = 'with-mark';
    line.append(this.input, this.mark);
    this.label.append('learning rate', line);
  }

  /** Starts the field at its value for `model` (the URL's, else the tuned one). */
  reset(model: ModelKind): void {
    const { value, tuned } = initialLearningRateOf(this.optimizer, model);
    this.tuned = tuned;
    this.input.value = this.fromUrl ?? String(value);
    this.showMark();
  }

  private showMark(): void {
    const { input, mark, tuned } = this;
    const isTuned = tuned != null && Number(input.value) === tuned.learningRate;
    mark.textContent =
      tuned == null ? 'untuned' : isTuned ? 'tuned' : `tuned: ${tuned.learningRate}`;
    mark.classList.toggle('off', !isTuned);
    mark.title =
      tuned?.source ?? `no tuned value for ${this.optimizer}: the registry's small-model value`;
    const positive = Number(input.value) > 0;
    input.setCustomValidity(positive ? '' : 'the learning rate must be a number > 0');
  }
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
  private readonly rows = new Map<string, Row>();
  private model: ModelKind | null = null;

  /**
   * `fieldset` is hidden while no optimizer is chosen; rows go in `container`; learning rates
   * given in the URL replace the tuned ones.
   */
  constructor(
    private readonly fieldset: HTMLElement,
    private readonly container: HTMLElement,
    private readonly learningRates: UrlParams['learningRates'] = { byOptimizer: {} },
  ) {}

  /**
   * Shows the fields of `optimizers` for `model`, in that order. Each optimizer's row is built
   * on first use and kept, so edited values survive a change of the selection; a change of the
   * model starts every learning rate at its value for the new model.
   */
  show(optimizers: readonly string[], model: ModelKind): void {
    if (model !== this.model) {
      this.model = model;
      for (const row of this.rows.values()) row.learningRate.reset(model);
    }
    const rows = optimizers.map((name) => this.rowOf(name).element);
    this.fieldset.hidden = rows.length === 0;
    // Rows already in place stay put: detaching a focused field would fire its change event
    // (and a rebuild) in the middle of this one.
    const current = [...this.container.children];
    if (current.length === rows.length && current.every((child, i) => child === rows[i])) return;
    this.container.replaceChildren(...rows);
  }

  /** The values of `optimizer`'s option fields by option name (empty without fields). */
  values(optimizer: string): Record<string, number | null | undefined> {
    const row = this.rowOf(optimizer);
    return Object.fromEntries(
      [...row.fields].map(([option, { input, spec }]) => [
        option,
        input.validity.badInput ? NaN : parseOptionValue(input.value, isNullable(spec)),
      ]),
    );
  }

  /** The learning rate in `optimizer`'s field (NaN if it is not a number). */
  learningRate(optimizer: string): number {
    const input = this.rowOf(optimizer).learningRate.input;
    return input.value.trim() === '' ? NaN : Number(input.value);
  }

  private rowOf(optimizer: string): Row {
    if (!this.rows.has(optimizer)) this.rows.set(optimizer, this.buildRow(optimizer));
    return this.rows.get(optimizer)!;
  }

  private buildRow(optimizer: string): Row {
    const element = document.createElement('div');
    element.className = 'option-row';
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = optimizer;
    const initial =
      this.learningRates.byOptimizer[optimizer.toLowerCase()] ?? this.learningRates.all;
    const learningRate = new LearningRateField(optimizer, initial);
    learningRate.reset(this.model ?? 'autoencoder');
    element.append(name, learningRate.label);
    const fields = new Map<string, Field>();
    for (const [option, spec] of exposedOptions(optimizer)) {
      const { label, ...made } = field(optimizer, option, spec);
      element.append(label);
      fields.set(option, made);
    }
    return { element, learningRate, fields };
  }
}
