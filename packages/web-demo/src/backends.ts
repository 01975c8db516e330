/**
 * TensorFlow.js backends: the wasm binaries' URLs (bundled by Vite), eva-tfjs's kernel overrides
 * (fast wasm kernels, WebGPU's AddN fix), and choosing the first backend that initialises, the
 * requested one first (saying why the others failed).
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

/** Points the wasm backend at its bundled binaries and enables eva-tfjs's kernel overrides. */
export function initialiseBackends(): void {
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmPlain,
    'tfjs-backend-wasm-simd.wasm': wasmSimd,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
  });
  enableFastKernels(); // includes the WebGPU AddN fix (eva-tfjs's kernels)
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
