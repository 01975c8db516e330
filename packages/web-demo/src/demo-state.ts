/**
 * What the page exposes as `window.__evaDemo`, for the end-to-end test and for curious users:
 * the backend in use, whether training is running or done, each run's progress, how many times
 * the reconstructions were drawn, and every uncaught error.
 */

/** One optimizer's progress. */
export interface RunSummary {
  name: string;
  steps: number;
  firstLoss: number;
  lastLoss: number;
}

export interface DemoState {
  backend: string;
  done: boolean;
  running: boolean;
  errors: string[];
  runs: RunSummary[];
  reconstructionsDrawn: number;
}

declare global {
  interface Window {
    __evaDemo: DemoState;
  }
}

/** The page's state (one object, published on `window` by {@link publishDemoState}). */
export const demo: DemoState = {
  backend: '',
  done: false,
  running: false,
  errors: [],
  runs: [],
  reconstructionsDrawn: 0,
};

/** Puts {@link demo} on `window.__evaDemo` and records uncaught errors in it. */
export function publishDemoState(): void {
  window.__evaDemo = demo;
  window.addEventListener('error', (e) => demo.errors.push(String(e.message)));
  window.addEventListener('unhandledrejection', (e) => demo.errors.push(String(e.reason)));
}
