/**
 * The end-to-end tests' page (backend-check.html): one training step of the demo's optimizers
 * on a chosen backend, from the same initial weights on the same batch, so the test
 * can compare webgl and webgpu with cpu. It exposes {@link BackendCheck} as
 * `window.__backendCheck`.
 */
import * as tf from '@tensorflow/tfjs';
import { createAutoencoder, initializeLikePyTorch } from '@eva-tfjs/experiments/models';
import { createOptimizerByName } from 'eva-tfjs';
import { chooseBackend, initialiseBackends, webgpuUnavailable } from './backends.js';
import { optimizerOptions } from './runs.js';
import { initialLearningRate } from './tuned-settings.js';

/**
 * The check's model: the demo's kind of autoencoder (Dense layers, ReLU, a linear code layer),
 * small enough that K-FAC's inverses take little time on every backend.
 */
const INPUTS = 64;
const HIDDEN = [48, 32, 8, 32, 48];
/** Samples in the check's batch. */
const BATCH = 32;
/** Seed of the batch (drawn on the host, so every backend gets the same numbers). */
const BATCH_SEED = 1;

/** One step's outcome on one backend. */
export interface StepResult {
  /** The backend the step ran on. */
  backend: string;
  /** Whether the backend computes in float32 (webgl may fall back to float16 textures). */
  float32: boolean;
  /** The loss of the batch before the step. */
  loss: number;
  /** Each weight before the step (name order of the model). */
  before: number[][];
  /** Each weight after the step. */
  after: number[][];
  /** The weights' names. */
  names: string[];
  /** Tensors left behind by the step, its model and optimizer (should be 0). */
  leakedTensors: number;
}

/** What the page offers the tests. */
export interface BackendCheck {
  /** Why WebGPU cannot run here (no `navigator.gpu`, or no adapter), or null when it can. */
  webgpuUnavailable(): Promise<string | null>;
  /** One step of `optimizer` (the demo's options, its initial learning rate) on `backend`. */
  oneStep(backend: string, optimizer: string): Promise<StepResult>;
  /** `tf.addN` of `count` tensors holding 1, 2, ..., count on `backend` (one element of it). */
  sumOfMany(backend: string, count: number): Promise<number>;
}

declare global {
  interface Window {
    __backendCheck?: BackendCheck;
  }
}

function usesFloat32(backend: string): boolean {
  return backend === 'webgl' ? tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED') : true;
}

/** Switches to `backend`, or throws saying why it could not. */
async function use(backend: string): Promise<void> {
  const choice = await chooseBackend(backend);
  if (choice.name !== backend)
    throw new Error(`${choice.failures.join('; ')} (got ${choice.name})`);
}

async function oneStep(backend: string, optimizer: string): Promise<StepResult> {
  await use(backend);
  const tensorsBefore = tf.memory().numTensors;
  const model = createAutoencoder(INPUTS, HIDDEN);
  initializeLikePyTorch(model, 0);
  const options = optimizerOptions(optimizer, initialLearningRate(optimizer, 'autoencoder'), {});
  const opt = createOptimizerByName(optimizer, model, options);
  model.compile({ optimizer: opt, loss: 'meanSquaredError' });
  const x = tf.randomNormal([BATCH, INPUTS], 0, 1, 'float32', BATCH_SEED);
  const read = () => Promise.all(model.getWeights().map(async (w) => [...(await w.data())]));
  let result: Omit<StepResult, 'leakedTensors'>;
  try {
    const before = await read();
    const loss = (await model.trainOnBatch(x, x)) as number;
    const after = await read();
    const names = model.weights.map((w) => w.originalName);
    result = { backend, float32: usesFloat32(backend), loss, before, after, names };
  } finally {
    x.dispose();
    model.dispose();
    opt.dispose();
  }
  return { ...result, leakedTensors: tf.memory().numTensors - tensorsBefore };
}

async function sumOfMany(backend: string, count: number): Promise<number> {
  await use(backend);
  const terms = Array.from({ length: count }, (_, i) => tf.fill([2048], i + 1));
  const sum = tf.addN(terms);
  const value = (await sum.data())[0]!;
  tf.dispose([...terms, sum]);
  return value;
}

async function main(): Promise<void> {
  initialiseBackends();
  await chooseBackend('cpu');
  window.__backendCheck = { webgpuUnavailable, oneStep, sumOfMany };
}

void main();
