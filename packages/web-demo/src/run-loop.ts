/**
 * The training loop: rounds of one step per run (same batch for every optimizer), yielding to
 * the browser with `tf.nextFrame` between rounds, reporting progress at most every 250 ms, and
 * stopping when paused or when every run has reached the step limit (the `steps` URL
 * parameter; a later Start runs on without a limit). It keeps `window.__evaDemo` up to date.
 */
import * as tf from '@tensorflow/tfjs';
import { trainingBatch, type Digits } from './data.js';
import { demo } from './demo-state.js';
import { disposeRun, type Run } from './runs.js';

const PROGRESS_INTERVAL_MS = 250;

export interface RunLoopHooks {
  /** Called at most every 250 ms while training, and after the last round. */
  progress(runs: readonly Run[], elapsedSeconds: number): void;
  /** Called when training stops (paused, finished, or failed with `error`). */
  stopped(error?: unknown): void;
}

export class RunLoop {
  private runs: Run[] = [];
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  /** Trains on `digits`; runs stop after `stopAfter` steps the first time. */
  constructor(
    private readonly digits: Digits,
    private stopAfter: number,
    private readonly hooks: RunLoopHooks,
  ) {}

  get isRunning(): boolean {
    return this.running;
  }

  /** Replaces (and frees) the runs; call it only while stopped. */
  replaceRuns(runs: Run[]): void {
    if (this.running) throw new Error('replaceRuns: stop training first');
    this.runs.forEach(disposeRun);
    this.runs = runs;
    demo.done = false;
    demo.runs = [];
  }

  /** Starts (or resumes) training with batches of `batch` digits; no-op while running. */
  start(batch: number): void {
    if (this.running) return;
    if (this.runs.length === 0 || this.finished()) this.stopAfter = Infinity;
    this.running = true;
    demo.running = true;
    this.loop = this.train(batch);
  }

  /** Stops after the current round. */
  pause(): void {
    this.running = false;
  }

  /** Stops after the current round and waits for it (so the runs can be replaced). */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private finished(): boolean {
    return this.runs.every((r) => r.steps >= this.stopAfter);
  }

  private async round(batch: number): Promise<void> {
    for (const run of this.runs) {
      if (run.steps >= this.stopAfter) continue;
      const { x, y, dispose } = trainingBatch(this.digits, run.steps, batch, run.classifier);
      const t0 = performance.now();
      const loss = (await run.model.trainOnBatch(x, y)) as number;
      run.seconds += (performance.now() - t0) / 1000;
      run.steps += 1;
      dispose();
      run.losses.push({ step: run.steps, seconds: run.seconds, loss });
    }
  }

  private async train(batch: number): Promise<void> {
    const started = performance.now();
    let lastProgress = 0;
    let error: unknown;
    try {
      while (this.running) {
        await this.round(batch);
        const now = performance.now();
        const finished = this.finished();
        if (now - lastProgress > PROGRESS_INTERVAL_MS || finished) {
          lastProgress = now;
          this.hooks.progress(this.runs, (now - started) / 1000);
          demo.runs = this.runs.map((r) => ({
            name: r.name,
            steps: r.steps,
            firstLoss: r.losses[0]?.loss ?? NaN,
            lastLoss: r.losses.at(-1)?.loss ?? NaN,
          }));
        }
        if (finished) {
          demo.done = true;
          break;
        }
        await tf.nextFrame();
      }
    } catch (e) {
      error = e;
      demo.errors.push(String(e));
    } finally {
      this.running = false;
      demo.running = false;
    }
    this.hooks.stopped(error);
  }
}
