/**
 * Kernel overrides that make training fast on the backends that install everywhere. They are
 * registered through tfjs's public kernel registry, keep the original kernel's setup/dispose
 * functions, and never change results (only how they are computed). Each override is a small
 * entry of {@link OVERRIDES}: drop it when a tfjs release fixes the kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type TensorInfo = tf.TensorInfo;
interface DisposableBackend {
  disposeData(dataId: object): void;
}

const MARK = Symbol('eva-tfjs.fastKernel');

interface Override {
  kernelName: string;
  backendName: string;
  /** Builds the new kernel function from the original one. */
  make(original: tf.KernelFunc, backendName: string): tf.KernelFunc;
}

function callKernel(
  name: string,
  backendName: string,
  inputs: Record<string, TensorInfo>,
  attrs: Record<string, unknown>,
  backend: unknown,
): TensorInfo {
  const kernel = tf.getKernel(name, backendName);
  if (kernel == null)
    throw new Error(`fast kernels: '${name}' is not registered for ${backendName}`);
  return kernel.kernelFunc({ inputs, attrs, backend } as unknown as KernelArgs) as TensorInfo;
}

function swapLastTwo(rank: number): number[] {
  const perm = [...Array(rank).keys()];
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/**
 * wasm `BatchMatMul` with a transpose flag is ~10x slower than an explicit transpose followed
 * by the untransposed product (the Dense backward pass uses both flags).
 */
const wasmBatchMatMul: Override = {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  make: (original, backendName) => (args) => {
    const { inputs, attrs, backend } = args as unknown as {
      inputs: { a: TensorInfo; b: TensorInfo };
      attrs: { transposeA: boolean; transposeB: boolean };
      backend: DisposableBackend;
    };
    if (!attrs.transposeA && !attrs.transposeB) return original(args);
    const temporaries: TensorInfo[] = [];
    const untransposed = (x: TensorInfo, flag: boolean) => {
      if (!flag) return x;
      const t = callKernel(
        'Transpose',
        backendName,
        { x },
        { perm: swapLastTwo(x.shape.length) },
        backend,
      );
      temporaries.push(t);
      return t;
    };
    try {
      return original({
        ...args,
        inputs: {
          a: untransposed(inputs.a, attrs.transposeA),
          b: untransposed(inputs.b, attrs.transposeB),
        },
        attrs: { ...attrs, transposeA: false, transposeB: false },
      } as unknown as KernelArgs);
    } finally {
      for (const t of temporaries) backend.disposeData(t.dataId);
    }
  },
};

const OVERRIDES: readonly Override[] = [wasmBatchMatMul];

/**
 * Registers the fast kernel overrides for every backend whose kernels are registered (import
 * `@tensorflow/tfjs-backend-wasm` first). Idempotent; safe before or after `tf.setBackend`.
 * Returns the `backend/kernel` names that are now overridden.
 */
export function enableFastKernels(): string[] {
  const active: string[] = [];
  for (const override of OVERRIDES) {
    const config = tf.getKernel(override.kernelName, override.backendName);
    if (config == null) continue;
    const id = `${override.backendName}/${override.kernelName}`;
    if ((config.kernelFunc as unknown as Record<symbol, boolean>)[MARK]) {
      active.push(id);
      continue;
    }
    const kernelFunc = override.make(config.kernelFunc, override.backendName);
    (kernelFunc as unknown as Record<symbol, boolean>)[MARK] = true;
    tf.unregisterKernel(override.kernelName, override.backendName);
    tf.registerKernel({ ...config, kernelFunc });
    active.push(id);
  }
  return active;
}
