/**
 * The page's form: the optimizer list (from the registry), model, learning rate, batch size,
 * backend selector, Start/Pause/Reset buttons and the status line.
 */
import { optimizerEntry, optimizerNames } from 'eva-tfjs';
import type { ModelKind, Run } from './runs.js';
import type { UrlParams } from './url-params.js';

/** The element with id `id`. */
export function byId<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

/** What the form says to train. */
export interface Settings {
  optimizers: string[];
  model: ModelKind;
  learningRate: number;
  batch: number;
}

/** The form's current settings. */
export function readSettings(): Settings {
  const number = (id: string) => Number(byId<HTMLInputElement>(id).value);
  const chosen = [...document.querySelectorAll<HTMLInputElement>('#optimizers input:checked')];
  return {
    optimizers: chosen.map((i) => i.value),
    model: byId<HTMLSelectElement>('model').value as ModelKind,
    learningRate: number('lr'),
    batch: Math.max(1, Math.round(number('batch'))),
  };
}

/** A tooltip for optimizer `name` from its registry entry. */
function describe(name: string): string {
  const entry = optimizerEntry(name);
  const base = entry.secondOrder ? ', on SGD with momentum' : '';
  return `${entry.description}${base}; a learning rate that trains small models: ${entry.testing.learningRate}`;
}

/** Lists every registered optimizer as a checkbox, `chosen` checked. */
export function fillOptimizerList(chosen: readonly string[]): void {
  byId('optimizers').replaceChildren(
    ...optimizerNames().map((name) => {
      const label = document.createElement('label');
      label.style.flexDirection = 'row';
      label.title = describe(name);
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = name;
      box.checked = chosen.includes(name);
      label.append(box, ` ${name}`);
      return label;
    }),
  );
}

/** Sets the model, learning rate and batch fields given in the URL. */
export function applyFields(fields: UrlParams['fields']): void {
  for (const [id, value] of Object.entries(fields)) {
    if (value != null) byId<HTMLInputElement>(id).value = value;
  }
}

/** Calls `handler` when the model, learning rate, batch size or optimizer selection change. */
export function onSettingsChange(handler: () => void): void {
  for (const id of ['model', 'lr', 'batch', 'optimizers'])
    byId(id).addEventListener('change', handler);
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

/** The status line while training: backend, elapsed time, and each run's speed and loss. */
export function progressLine(
  backend: string,
  runs: readonly Run[],
  elapsedSeconds: number,
): string {
  const rates = runs.map(
    (r) =>
      `${r.name} ${(r.steps / Math.max(r.seconds, 1e-9)).toFixed(1)} steps/s, loss ${r.losses.at(-1)?.loss.toFixed(4) ?? '-'}`,
  );
  return `${backend} | ${elapsedSeconds.toFixed(0)} s | ${rates.join(' | ')}`;
}
