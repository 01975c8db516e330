/**
 * Selecting a tfjs backend by name from Node, with the fast kernel overrides enabled. The
 * `tensorflow` backend needs the optional `@tensorflow/tfjs-node` package.
 */
import * as tf from '@tensorflow/tfjs-core';
import { enableFastKernels } from 'eva-tfjs';

/** Backend names the CLI and benchmarks accept. */
export const BACKEND_NAMES = ['cpu', 'wasm', 'tensorflow', 'webgl', 'webgpu'] as const;
/** One of {@link BACKEND_NAMES}. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The backends that run in Node (the others need a browser: WebGL, WebGPU). */
export const NODE_BACKEND_NAMES = ['cpu', 'wasm', 'tensorflow'] as const;

/**
 * Throws a clear error unless backend `name` can run in Node (unknown names list the valid
 * ones; webgl and webgpu are browser backends).
 */
export function checkNodeBackend(name: string): BackendName {
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new Error(`Unknown backend '${name}'; valid backends are ${BACKEND_NAMES.join(', ')}`);
  }
  if (!(NODE_BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new Error(
      `Backend '${name}' is a browser backend; in Node use ${NODE_BACKEND_NAMES.slice(0, -1).join(', ')} ` +
        `or ${NODE_BACKEND_NAMES.at(-1)} (--backend)`,
    );
  }
  return name as BackendName;
}

async function importBackend(name: BackendName): Promise<void> {
  const packages: Record<BackendName, string> = {
    cpu: '@tensorflow/tfjs-backend-cpu',
    wasm: '@tensorflow/tfjs-backend-wasm',
    tensorflow: '@tensorflow/tfjs-node',
    webgl: '@tensorflow/tfjs-backend-webgl',
    webgpu: '@tensorflow/tfjs-backend-webgpu',
  };
  const pkg = packages[name];
  try {
    await import(pkg);
  } catch (e) {
    const hint =
      name === 'tensorflow'
        ? "install it with 'npm install @tensorflow/tfjs-node' (it downloads a native TensorFlow " +
          'binary at install time)'
        : `install it with 'npm install ${pkg}'`;
    throw new Error(`Backend '${name}' needs the package ${pkg}: ${hint}. (${String(e)})`, {
      cause: e,
    });
  }
}

/**
 * Loads and activates backend `name` (with {@link enableFastKernels}); throws a clear error
 * when it is a browser backend, its package is missing or it cannot start in this environment.
 */
export async function setupBackend(name: string): Promise<BackendName> {
  const backend = checkNodeBackend(name);
  await importBackend(backend);
  enableFastKernels();
  const ok = await tf.setBackend(backend);
  if (!ok) throw new Error(`Backend '${backend}' could not be initialised in this environment`);
  await tf.ready();
  return backend;
}
