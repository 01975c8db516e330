/**
 * The training loop: rounds of one step per run (same batch for every optimizer), each run's
 * learning rate set from its schedule before its step, yielding to the browser with
 * `tf.nextFrame` between rounds, reporting progress at most every 250 ms, and stopping when
 * paused or when every run has taken the requested number of steps. It keeps
 * `window.__evaDemo` up to date.
 */
import * as tf from '@tensorflow/tfjs';
import { setLearningRate, type LearningRateSchedule } from 'eva-tfjs';
import { trainingBatch, type Digits } from './data.js';
import { demo } from './demo-state.js';
import { disposeRun, type Run } from './runs.js';
import { scheduleFor, type ScheduleSettings } from './schedule.js';

const PROGRESS_INTERVAL_MS = 250;

/** What the loop reports to the page. */
export interface RunLoopHooks {
  /** Called at most every 250 ms while training, and after the last round. */
  progress(runs: readonly Run[], elapsedSeconds: number): void;
  /** Called when training stops (paused, finished, or failed with `error`). */
  stopped(error?: unknown): void;
}

/** How to train: batch size, and the schedule (its `totalSteps` is where the runs stop). */
export interface TrainingSettings extends ScheduleSettings {
  batch: number;
}

/** Trains the runs, one round at a time. */
export class RunLoop {
  private runs: Run[] = [];
  private schedules: LearningRateSchedule[] = [];
  private stopAfter = 0;
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  /** Trains on `digits`, reporting through `hooks`. */
  constructor(
    private readonly digits: Digits,
    private readonly hooks: RunLoopHooks,
  ) {}

  /** Whether a round is under way or about to be. */
  get isRunning(): boolean {
    return this.running;
  }

  /** The runs being trained. */
  get currentRuns(): readonly Run[] {
    return this.runs;
  }

  /** Replaces (and frees) the runs; call it only while stopped. */
  replaceRuns(runs: Run[]): void {
    if (this.running) throw new Error('replaceRuns: stop training first');
    this.runs.forEach(disposeRun);
    this.runs = runs;
    demo.done = false;
    demo.runs = [];
  }

  /** Whether every run has taken `steps` steps. */
  reached(steps: number): boolean {
    return this.runs.every((r) => r.steps >= steps);
  }

  /**
   * Starts (or resumes) training until every run has taken `settings.totalSteps` steps; false
   * (and nothing started) when there are no runs, they are already there, or it is running.
   */
  start(settings: TrainingSettings): boolean {
    if (this.running || this.runs.length === 0 || this.reached(settings.totalSteps)) return false;
    this.schedules = this.runs.map((r) => scheduleFor(r.learningRate, settings));
    this.stopAfter = settings.totalSteps;
    this.running = true;
    demo.running = true;
    demo.done = false;
    this.loop = this.train(settings.batch);
    return true;
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

  private async round(batch: number): Promise<void> {
    for (const [i, run] of this.runs.entries()) {
      if (run.steps >= this.stopAfter) continue;
      const learningRate = this.schedules[i]!(run.steps);
      setLearningRate(run.optimizer, learningRate);
      const { x, y, dispose } = trainingBatch(this.digits, run.steps, batch, run.classifier);
      const t0 = performance.now();
      const loss = (await run.model.trainOnBatch(x, y)) as number;
      run.seconds += (performance.now() - t0) / 1000;
      run.steps += 1;
      dispose();
      run.losses.push({ step: run.steps, seconds: run.seconds, loss, learningRate });
    }
  }

  private publish(): void {
    demo.runs = this.runs.map((r) => ({
      name: r.name,
      learningRate: r.learningRate,
      steps: r.steps,
      seconds: r.seconds,
      losses: r.losses.map((p) => p.loss),
    }));
    demo.tensors = tf.memory().numTensors;
  }

  private async train(batch: number): Promise<void> {
    const started = performance.now();
    let lastProgress = 0;
    let error: unknown;
    try {
      while (this.running) {
        await this.round(batch);
        const now = performance.now();
        const finished = this.reached(this.stopAfter);
        if (now - lastProgress > PROGRESS_INTERVAL_MS || finished) {
          lastProgress = now;
          this.publish();
          this.hooks.progress(this.runs, (now - started) / 1000);
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
