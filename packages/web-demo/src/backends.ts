/**
 * TensorFlow.js backends: the wasm binaries' URLs (bundled by Vite), eva-tfjs's fast kernels,
 * a fix for WebGPU's AddN, and choosing the first backend that initialises, the requested one
 * first (saying why the others failed).
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { enableFastKernels } from 'eva-tfjs';

/** The backends the demo offers, in order of preference. */
export const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'];

/**
 * Inputs one WebGPU AddN shader may bind: WebGPU devices allow 8 storage buffers per shader
 * stage unless they ask for more, and the output takes one.
 */
const WEBGPU_ADDN_INPUTS = 7;

/**
 * tfjs-backend-webgpu 4.22 binds every input of AddN in one shader: with more than
 * {@link WEBGPU_ADDN_INPUTS} inputs the pipeline is invalid, and the result is garbage (zeros)
 * with only a console warning. eva-tfjs adds one term per weight tensor (its finite check, its
 * norms), so this re-registers AddN to sum in chunks the shader can bind.
 */
function registerChunkedWebgpuAddN(): void {
  const original = tf.getKernel('AddN', 'webgpu');
  if (original == null) return;
  const addN = original.kernelFunc;
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      let terms = args.inputs as unknown as tf.TensorInfo[];
      if (terms.length <= WEBGPU_ADDN_INPUTS) return addN(args);
      const backend = args.backend as { disposeData(dataId: object): void };
      const partialSums: tf.TensorInfo[] = [];
      while (terms.length > WEBGPU_ADDN_INPUTS) {
        const next: tf.TensorInfo[] = [];
        for (let i = 0; i < terms.length; i += WEBGPU_ADDN_INPUTS) {
          const chunk = terms.slice(i, i + WEBGPU_ADDN_INPUTS);
          if (chunk.length === 1) {
            next.push(chunk[0]!);
            continue;
          }
          const sum = addN({ ...args, inputs: chunk as unknown as tf.NamedTensorInfoMap });
          partialSums.push(sum as tf.TensorInfo);
          next.push(sum as tf.TensorInfo);
        }
        terms = next;
      }
      const total = addN({ ...args, inputs: terms as unknown as tf.NamedTensorInfoMap });
      for (const sum of partialSums) backend.disposeData(sum.dataId);
      return total;
    },
  });
}

/** Points the wasm backend at its bundled binaries, enables the fast kernels and fixes AddN. */
export function initialiseBackends(): void {
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmPlain,
    'tfjs-backend-wasm-simd.wasm': wasmSimd,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
  });
  enableFastKernels();
  registerChunkedWebgpuAddN();
}

/** The backend in use, and why each backend tried before it failed. */
export interface BackendChoice {
  name: string;
  /** `backend: reason` for each backend that was tried first and failed. */
  failures: string[];
}

/** Why WebGPU cannot run here (no `navigator.gpu`, or no adapter), or null when it can. */
export async function webgpuUnavailable(): Promise<string | null> {
  if (!('gpu' in navigator)) return 'navigator.gpu is missing (WebGPU is not enabled)';
  try {
    const adapter = await navigator.gpu.requestAdapter();
    return adapter == null ? 'navigator.gpu.requestAdapter() returned null (no adapter)' : null;
  } catch (e) {
    return `navigator.gpu.requestAdapter() failed: ${String(e)}`;
  }
}

/** Switches to `requested` (or, failing that, the first of {@link BACKENDS} that works). */
export async function chooseBackend(requested: string | null): Promise<BackendChoice> {
  const order = requested ? [requested, ...BACKENDS.filter((b) => b !== requested)] : BACKENDS;
  const failures: string[] = [];
  for (const name of order) {
    try {
      const reason = name === 'webgpu' ? await webgpuUnavailable() : null;
      if (reason != null) {
        failures.push(`${name}: ${reason}`);
        continue;
      }
      if (await tf.setBackend(name)) {
        await tf.ready();
        return { name, failures };
      }
      failures.push(`${name}: did not initialise`);
    } catch (e) {
      failures.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could be initialised (${failures.join('; ')})`);
}
