/**
 * What the page exposes as `window.__evaDemo`, for the end-to-end tests and for curious users:
 * the backend in use (and why the ones tried before it failed), whether training is running or
 * done, each run's progress and losses, the "time to reach loss X" readout, how many times the
 * reconstructions were drawn, the number of tensors, and every uncaught error.
 */

/** One optimizer's progress. */
export interface RunSummary {
  name: string;
  /** The peak learning rate of its schedule. */
  learningRate: number;
  steps: number;
  /** Seconds spent in its own training steps. */
  seconds: number;
  /** The training loss of every step so far. */
  losses: number[];
}

/** When one optimizer reached the target loss (null: not yet). */
export interface TargetReached {
  name: string;
  step: number | null;
  seconds: number | null;
}

/** The page's state. */
export interface DemoState {
  backend: string;
  /** `backend: reason` for each backend tried before the one in use. */
  backendFailures: string[];
  done: boolean;
  running: boolean;
  errors: string[];
  runs: RunSummary[];
  /** The target loss of the readout. */
  target: number;
  readout: TargetReached[];
  reconstructionsDrawn: number;
  /** `tf.memory().numTensors` when the runs' progress was last published. */
  tensors: number;
}

declare global {
  interface Window {
    __evaDemo: DemoState;
  }
}

/** The page's state (one object, published on `window` by {@link publishDemoState}). */
export const demo: DemoState = {
  backend: '',
  backendFailures: [],
  done: false,
  running: false,
  errors: [],
  runs: [],
  target: NaN,
  readout: [],
  reconstructionsDrawn: 0,
  tensors: 0,
};

/** Puts {@link demo} on `window.__evaDemo` and records uncaught errors in it. */
export function publishDemoState(): void {
  window.__evaDemo = demo;
  window.addEventListener('error', (e) => demo.errors.push(String(e.message)));
  window.addEventListener('unhandledrejection', (e) => demo.errors.push(String(e.reason)));
}
