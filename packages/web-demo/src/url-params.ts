/**
 * The demo's URL parameters, for sharing a configuration and for the end-to-end test:
 * `optimizers=sgd,eva`, `backend=wasm`, `model=mlp`, `lr`, `batch`, `steps` (stop after this many
 * steps per optimizer) and `autostart=1`.
 */
export interface UrlParams {
  /** Optimizers checked at load (default `sgd,eva`). */
  optimizers: string[];
  /** Backend to try first (null: the first of webgpu, webgl, wasm, cpu that works). */
  backend: string | null;
  /** Initial values of the form fields `model`, `lr` and `batch` (absent: the page's default). */
  fields: { model: string | null; lr: string | null; batch: string | null };
  /** Steps per optimizer after which the first run stops (Infinity: until paused). */
  steps: number;
  /** Start training as soon as the page is ready. */
  autostart: boolean;
}

/** Reads the parameters of `search` (by default the page's own). */
export function readUrlParams(search: string = location.search): UrlParams {
  const params = new URLSearchParams(search);
  return {
    optimizers: (params.get('optimizers') ?? 'sgd,eva').split(','),
    backend: params.get('backend'),
    fields: { model: params.get('model'), lr: params.get('lr'), batch: params.get('batch') },
    steps: Number(params.get('steps') ?? Infinity),
    autostart: params.get('autostart') === '1',
  };
}
