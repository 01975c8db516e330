/**
 * Checks shared by every `setWeights` of the library: the step counter, finite values, slot
 * shapes. They throw naming the optimizer and the entry, and change nothing, so a rejected
 * state leaves the optimizer as it was.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from './gradients.js';

/**
 * What `setWeights` was given must be an array of `{ name, tensor }` with distinct names; returns
 * it typed.
 */
export function checkStateInput(owner: string, weightValues: unknown): NamedTensor[] {
  if (!Array.isArray(weightValues)) {
    throw new Error(
      `${owner}.setWeights: expected the array of { name, tensor } that getWeights returns`,
    );
  }
  const seen = new Set<string>();
  weightValues.forEach((entry: unknown, i) => {
    const { name, tensor } = (entry ?? {}) as Partial<NamedTensor>;
    if (typeof name !== 'string') {
      throw new Error(`${owner}.setWeights: entry ${i} has no name`);
    }
    if (!(tensor instanceof tf.Tensor) || tensor.isDisposed) {
      throw new Error(`${owner}.setWeights: '${name}' is not a (live) tensor`);
    }
    if (seen.has(name)) throw new Error(`${owner}.setWeights: '${name}' appears twice`);
    seen.add(name);
  });
  return weightValues as NamedTensor[];
}

/** The step counter of a saved state: a finite integer >= 0 in a one-element tensor. */
export async function checkIterations(
  owner: string,
  entry: NamedTensor | undefined,
  name = 'iter',
) {
  if (entry == null || entry.name !== name) {
    throw new Error(
      `${owner}.setWeights: expected the step counter '${name}' ` +
        `${name === 'iter' ? 'first' : 'before the slots it counts'}, got ` +
        `${entry == null ? 'nothing' : `'${entry.name}'`}`,
    );
  }
  if (entry.tensor.size !== 1) {
    throw new Error(
      `${owner}.setWeights: '${name}' must hold one value, got shape [${entry.tensor.shape}]`,
    );
  }
  const value = (await entry.tensor.data())[0]!;
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${owner}.setWeights: '${name}' must be an integer >= 0, got ${value}`);
  }
  return value;
}

/** Every value of every entry is finite (one host read per entry; not for the hot path). */
export async function checkFinite(owner: string, entries: readonly NamedTensor[]): Promise<void> {
  for (const { name, tensor } of entries) {
    if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') {
      throw new Error(`${owner}.setWeights: '${name}' must be float32, got ${tensor.dtype}`);
    }
    const values = await tensor.data();
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) {
        throw new Error(`${owner}.setWeights: '${name}' holds a non-finite value (${values[i]})`);
      }
    }
  }
}

/** `entries` have exactly the names and shapes of `expected`, in order. */
export function checkSlots(
  owner: string,
  entries: readonly NamedTensor[],
  expected: ReadonlyArray<{ name: string; shape: readonly number[] }>,
  what: string,
): void {
  if (entries.length !== expected.length) {
    throw new Error(
      `${owner}.setWeights: expected ${expected.length} ${what} entries, got ${entries.length}`,
    );
  }
  entries.forEach(({ name, tensor }, i) => {
    const want = expected[i]!;
    if (name !== want.name) {
      throw new Error(
        `${owner}.setWeights: ${what} entry ${i} must be '${want.name}', got '${name}'`,
      );
    }
    if (!tf.util.arraysEqual(tensor.shape, [...want.shape])) {
      throw new Error(
        `${owner}.setWeights: '${name}' must have shape [${want.shape}], got [${tensor.shape}]`,
      );
    }
  });
}
