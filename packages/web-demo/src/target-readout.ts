/**
 * The "time to reach loss X" readout: for each optimizer, the first step at which its training
 * loss, averaged over the last {@link SMOOTHING_STEPS} steps (one batch alone is noisy), is at
 * most X, with the wall-clock seconds its own steps took to get there, or "not yet".
 */
import type { LossPoint } from './charts.js';
import type { TargetReached } from './demo-state.js';

/** Steps over which the readout averages the training loss. */
export const SMOOTHING_STEPS = 10;

/**
 * The first point of `losses` where the mean loss of the last `window` steps is at most
 * `target` (null: not yet, or never with non-finite losses).
 */
export function firstReached(
  losses: readonly LossPoint[],
  target: number,
  window: number = SMOOTHING_STEPS,
): { step: number; seconds: number } | null {
  for (let i = window - 1; i < losses.length; i++) {
    let sum = 0;
    for (let j = i + 1 - window; j <= i; j++) sum += losses[j]!.loss;
    if (sum / window <= target) return { step: losses[i]!.step, seconds: losses[i]!.seconds };
  }
  return null;
}

/** One optimizer's line of the readout. */
export interface ReadoutSeries {
  name: string;
  color: string;
  losses: readonly LossPoint[];
}

/** The readout's table body. */
export class TargetReadout {
  /** Rows go in `body` (a `<tbody>`). */
  constructor(private readonly body: HTMLElement) {}

  /** Redraws the rows for `series` and `target`; returns what it shows. */
  update(series: readonly ReadoutSeries[], target: number): TargetReached[] {
    const reached = series.map((s) => {
      const hit = Number.isFinite(target) ? firstReached(s.losses, target) : null;
      return { name: s.name, step: hit?.step ?? null, seconds: hit?.seconds ?? null };
    });
    this.body.replaceChildren(
      ...series.map((s, i) => {
        const row = document.createElement('tr');
        const name = document.createElement('td');
        name.textContent = s.name;
        name.style.color = s.color;
        const { step, seconds } = reached[i]!;
        const cells = step == null ? ['not yet', 'not yet'] : [String(step), seconds!.toFixed(1)];
        row.append(
          name,
          ...cells.map((text) => {
            const cell = document.createElement('td');
            cell.textContent = text;
            return cell;
          }),
        );
        return row;
      }),
    );
    return reached;
  }
}
