/**
 * The demo's URL parameters, for sharing a configuration and for the end-to-end tests:
 * `optimizers=sgd,eva`, `backend=wasm`, `model=mlp`, `lr=0.05` (every optimizer) or
 * `lr=sgd:1,eva:0.05` (per optimizer), `batch`, `steps`, `warmup` (steps), `decay`
 * (`constant` or `linear`), `target` (the readout's loss) and `autostart=1`.
 */

/** The form fields a URL parameter of the same name fills. */
export const URL_FIELDS = ['model', 'batch', 'steps', 'warmup', 'decay', 'target'] as const;

/** The parameters of the page's URL. */
export interface UrlParams {
  /** Optimizers checked at load (default `sgd,eva`). */
  optimizers: string[];
  /** Backend to try first (null: the first of webgpu, webgl, wasm, cpu that works). */
  backend: string | null;
  /** Initial values of the form fields (absent: the page's default). */
  fields: Partial<Record<(typeof URL_FIELDS)[number], string>>;
  /** Learning rates given in the URL: for every optimizer (`all`) and by name. */
  learningRates: { all?: string; byOptimizer: Record<string, string> };
  /** Start training as soon as the page is ready. */
  autostart: boolean;
}

/** `lr=0.05` or `lr=sgd:1,eva:0.05`. */
function parseLearningRates(text: string | null): UrlParams['learningRates'] {
  if (text == null) return { byOptimizer: {} };
  if (!text.includes(':')) return { all: text, byOptimizer: {} };
  const pairs = text.split(',').map((pair) => pair.split(':').map((part) => part.trim()));
  return {
    byOptimizer: Object.fromEntries(
      pairs.map(([name, value]) => [name!.toLowerCase(), value ?? '']),
    ),
  };
}

/** Reads the parameters of `search` (by default the page's own). */
export function readUrlParams(search: string = location.search): UrlParams {
  const params = new URLSearchParams(search);
  const fields: UrlParams['fields'] = {};
  for (const id of URL_FIELDS) {
    const value = params.get(id);
    if (value != null) fields[id] = value;
  }
  return {
    optimizers: (params.get('optimizers') ?? 'sgd,eva').split(','),
    backend: params.get('backend'),
    fields,
    learningRates: parseLearningRates(params.get('lr')),
    autostart: params.get('autostart') === '1',
  };
}
