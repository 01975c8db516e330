/**
 * The page's form: the optimizer list (from the registry), the training settings (model, batch
 * size, steps, warm-up, decay, the readout's target loss), the backend selector,
 * Start/Pause/Reset and the status line.
 */
import { optimizerEntry, optimizerNames } from 'eva-tfjs';
import type { ModelKind, Run } from './runs.js';
import { DECAYS, type Decay } from './schedule.js';
import type { UrlParams } from './url-params.js';

/** The element with id `id`. */
export function byId<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

/** What the form says to train. */
export interface Settings {
  optimizers: string[];
  model: ModelKind;
  batch: number;
  /** Steps per optimizer (the run stops there; a linear decay ends there). */
  steps: number;
  warmupSteps: number;
  decay: Decay;
}

/** The value of number field `id`, rounded to a whole number at least `min`. */
function wholeNumber(id: string, min: number): number {
  const value = Math.round(Number(byId<HTMLInputElement>(id).value));
  return Number.isFinite(value) ? Math.max(min, value) : min;
}

/** The form's current settings. */
export function readSettings(): Settings {
  const chosen = [...document.querySelectorAll<HTMLInputElement>('#optimizers input:checked')];
  const decay = byId<HTMLSelectElement>('decay').value as Decay;
  return {
    optimizers: chosen.map((i) => i.value),
    model: byId<HTMLSelectElement>('model').value as ModelKind,
    batch: wholeNumber('batch', 1),
    steps: wholeNumber('steps', 1),
    warmupSteps: wholeNumber('warmup', 0),
    decay: DECAYS.includes(decay) ? decay : 'constant',
  };
}

/** The readout's target loss (NaN when the field is empty or not a number). */
export function readTarget(): number {
  const text = byId<HTMLInputElement>('target').value.trim();
  return text === '' ? NaN : Number(text);
}

/** A tooltip for optimizer `name` from its registry entry. */
function describe(name: string): string {
  const entry = optimizerEntry(name);
  return `${entry.description}${entry.secondOrder ? ', on SGD with momentum' : ''}`;
}

/** Lists every registered optimizer as a checkbox, `chosen` checked. */
export function fillOptimizerList(chosen: readonly string[]): void {
  byId('optimizers').replaceChildren(
    ...optimizerNames().map((name) => {
      const label = document.createElement('label');
      label.title = describe(name);
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = name;
      box.checked = chosen.includes(name);
      label.append(box, name);
      return label;
    }),
  );
}

/** Sets form fields (by id) to the values given. */
export function applyFields(fields: UrlParams['fields']): void {
  for (const [id, value] of Object.entries(fields)) byId<HTMLInputElement>(id).value = value;
}

/**
 * Calls `rebuild` when a setting that needs fresh runs changes (optimizers, model, batch size,
 * warm-up, decay, or an optimizer's option), and `update` when one that does not changes (the
 * steps, the target loss).
 */
export function onSettingsChange(rebuild: () => void, update: () => void): void {
  for (const id of ['optimizers', 'optimizer-options', 'model', 'batch', 'warmup', 'decay'])
    byId(id).addEventListener('change', rebuild);
  for (const id of ['steps', 'target']) byId(id).addEventListener('change', update);
}

/** Disables the settings while training (the readout's target stays editable). */
export function lockSettings(locked: boolean): void {
  for (const element of document.querySelectorAll<HTMLInputElement | HTMLSelectElement>(
    '#optimizers input, #optimizer-options input, #settings input, #settings select',
  )) {
    element.disabled = locked;
  }
}

/** The backend selector. */
export function backendSelect(): HTMLSelectElement {
  return byId<HTMLSelectElement>('backend');
}

/** Fills the backend selector with `backends`, marking and selecting `inUse`. */
export function fillBackendSelect(backends: readonly string[], inUse: string): void {
  const select = backendSelect();
  select.replaceChildren(
    ...backends.map((b) => {
      const option = document.createElement('option');
      option.value = b;
      return option;
    }),
  );
  markBackendInUse(inUse);
}

/** Marks `inUse` as the backend in use. */
export function markBackendInUse(inUse: string): void {
  const select = backendSelect();
  for (const option of select.options) {
    option.textContent = option.value === inUse ? `${option.value} (in use)` : option.value;
  }
  select.value = inUse;
}

/** Enables Start or Pause, whichever applies. */
export function showTraining(running: boolean): void {
  byId<HTMLButtonElement>('start').disabled = running;
  byId<HTMLButtonElement>('pause').disabled = !running;
}

/** Sets the status line. */
export function setStatus(text: string): void {
  byId('status').textContent = text;
}

/** The status line while training: backend, elapsed time, and each run's speed, lr and loss. */
export function progressLine(
  backend: string,
  runs: readonly Run[],
  elapsedSeconds: number,
): string {
  const rates = runs.map((r) => {
    const last = r.losses.at(-1);
    const speed = (r.steps / Math.max(r.seconds, 1e-9)).toFixed(1);
    const state =
      last == null ? '' : `, lr ${last.learningRate.toPrecision(2)}, loss ${last.loss.toFixed(4)}`;
    return `${r.name} ${r.steps} steps, ${speed}/s${state}`;
  });
  return `${backend} | ${elapsedSeconds.toFixed(0)} s | ${rates.join(' | ')}`;
}
