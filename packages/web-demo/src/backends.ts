/**
 * TensorFlow.js backends: the wasm binaries' URLs (bundled by Vite), eva-tfjs's fast kernels,
 * and choosing the first backend that initialises, the requested one first.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { enableFastKernels } from 'eva-tfjs';

/** The backends the demo offers, in order of preference. */
export const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'];

/** Points the wasm backend at its bundled binaries and enables the fast kernels. */
export function initialiseBackends(): void {
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmPlain,
    'tfjs-backend-wasm-simd.wasm': wasmSimd,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
  });
  enableFastKernels();
}

/** Switches to `requested` (or, failing that, the first of {@link BACKENDS} that works). */
export async function chooseBackend(requested: string | null): Promise<string> {
  const order = requested ? [requested, ...BACKENDS.filter((b) => b !== requested)] : BACKENDS;
  for (const name of order) {
    try {
      if (name === 'webgpu' && !('gpu' in navigator)) continue;
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // try the next one
    }
  }
  throw new Error('no TensorFlow.js backend could be initialised');
}
