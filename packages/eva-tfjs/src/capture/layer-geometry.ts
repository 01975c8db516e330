/**
 * Discovery and validation of the layers whose statistics can be captured: the `Dense` and
 * `Conv2D` layers of a `tf.LayersModel`, nested models included.
 */
import type * as tfl from '@tensorflow/tfjs-layers';

/** Shape facts of a captured `Dense` layer. */
export interface DenseGeometry {
  readonly kind: 'dense';
  /** Input features (rows of the kernel `[in, out]`). */
  readonly inFeatures: number;
  /** Output units. */
  readonly outFeatures: number;
  readonly hasBias: boolean;
}

/** Shape facts of a captured `Conv2D` layer (channels-last, dilation 1). */
export interface Conv2DGeometry {
  readonly kind: 'conv2d';
  /** `kh * kw * cin`: the length of one im2col patch, in `(kh, kw, cin)` order. */
  readonly inFeatures: number;
  /** Output channels. */
  readonly outFeatures: number;
  readonly hasBias: boolean;
  readonly kernelSize: readonly [number, number];
  readonly inChannels: number;
  readonly strides: readonly [number, number];
  readonly padding: 'same' | 'valid';
}

/** Geometry of any captured layer. */
export type LayerGeometry = DenseGeometry | Conv2DGeometry;

/** Predicate or list of layer names that must not be preconditioned. */
export type LayerFilter = readonly string[] | ((layer: tfl.layers.Layer) => boolean);

/** A captured layer found in a model, with the path of container names that leads to it. */
export interface DiscoveredLayer {
  readonly layer: tfl.layers.Layer;
  /** `outer/inner/layer` names, for error messages and state names. */
  readonly path: string;
  readonly geometry: LayerGeometry;
}

/** The parts of tfjs-layers' Dense/Conv2D instances this library reads (not in the public typings). */
export interface LinearLayerInternals {
  kernel: { read(): import('@tensorflow/tfjs-core').Variable } | null;
  bias: { read(): import('@tensorflow/tfjs-core').Variable } | null;
  activation?: {
    apply(x: import('@tensorflow/tfjs-core').Tensor): import('@tensorflow/tfjs-core').Tensor;
    getClassName(): string;
  };
  strides?: number[] | number;
  padding?: string;
  dataFormat?: string;
  dilationRate?: number[] | number;
  inboundNodes: unknown[];
  built: boolean;
}

function isContainer(layer: tfl.layers.Layer): layer is tfl.LayersModel {
  return Array.isArray((layer as unknown as { layers?: unknown }).layers);
}

function pair(value: number[] | number | undefined, name: string, path: string): [number, number] {
  const v = typeof value === 'number' ? [value, value] : value;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x > 0)) {
    throw new Error(`Layer '${path}': unsupported ${name} ${JSON.stringify(value)}`);
  }
  return [v[0]!, v[1]!];
}

/** Reads and validates the geometry of one Dense/Conv2D layer; throws naming the layer otherwise. */
export function layerGeometry(layer: tfl.layers.Layer, path: string): LayerGeometry {
  const internals = layer as unknown as LinearLayerInternals;
  if (!internals.built || internals.kernel == null) {
    throw new Error(
      `Layer '${path}' is not built yet: build the model (give it an input shape, or call it once) ` +
        'before creating the optimizer.',
    );
  }
  const kernelShape = internals.kernel.read().shape;
  const hasBias = internals.bias != null;
  const className = layer.getClassName();
  if (className === 'Dense') {
    if (kernelShape.length !== 2) {
      throw new Error(`Layer '${path}': expected a rank-2 Dense kernel, got [${kernelShape}]`);
    }
    return { kind: 'dense', inFeatures: kernelShape[0]!, outFeatures: kernelShape[1]!, hasBias };
  }
  if (className === 'Conv2D') {
    if (internals.dataFormat !== 'channelsLast') {
      throw new Error(
        `Layer '${path}': dataFormat '${internals.dataFormat}' is not supported for ` +
          "preconditioning; use 'channelsLast' or exclude the layer with skipLayers",
      );
    }
    const dilation = pair(internals.dilationRate, 'dilationRate', path);
    if (dilation[0] !== 1 || dilation[1] !== 1) {
      throw new Error(
        `Layer '${path}': dilationRate ${JSON.stringify(internals.dilationRate)} is not supported ` +
          'for preconditioning (only 1); exclude the layer with skipLayers',
      );
    }
    const padding = internals.padding;
    if (padding !== 'same' && padding !== 'valid') {
      throw new Error(`Layer '${path}': padding '${padding}' is not supported (only same/valid)`);
    }
    if (kernelShape.length !== 4) {
      throw new Error(`Layer '${path}': expected a rank-4 Conv2D kernel, got [${kernelShape}]`);
    }
    const [kh, kw, cin, cout] = kernelShape as [number, number, number, number];
    return {
      kind: 'conv2d',
      inFeatures: kh * kw * cin,
      outFeatures: cout,
      hasBias,
      kernelSize: [kh, kw],
      inChannels: cin,
      strides: pair(internals.strides, 'strides', path),
      padding,
    };
  }
  throw new Error(`Layer '${path}' (${className}) is neither Dense nor Conv2D`);
}

/** How many times `layer` is applied inside `container`'s own graph (other models don't count). */
function usesInContainer(container: tfl.LayersModel, layer: tfl.layers.Layer): number {
  const nodes = (container as unknown as { containerNodes?: Set<string> }).containerNodes;
  const inbound = (layer as unknown as LinearLayerInternals).inboundNodes;
  if (nodes == null) return inbound.length;
  return inbound.filter((_, i) => nodes.has(`${layer.name}_ib-${i}`)).length;
}

function isSkipped(layer: tfl.layers.Layer, skip: LayerFilter | undefined): boolean {
  if (skip == null) return false;
  return typeof skip === 'function' ? skip(layer) : skip.includes(layer.name);
}

/**
 * Finds every Dense and Conv2D layer of `model` (recursing into nested models), in the order
 * of `model.layers`. Layers named in / matched by `skip` are left out; a name in `skip` that is
 * no Dense or Conv2D layer of the model is an error naming it (a typo would otherwise silently
 * precondition the layer). A layer (or a nested model containing it) applied at several places
 * of the graph is rejected, since one set of statistics per layer could not describe it.
 */
export function discoverLayers(model: tfl.LayersModel, skip?: LayerFilter): DiscoveredLayer[] {
  const found: DiscoveredLayer[] = [];
  const linearNames = new Set<string>();
  const visit = (container: tfl.LayersModel, prefix: string, sharedAncestor: string | null) => {
    for (const layer of container.layers) {
      const path = prefix ? `${prefix}/${layer.name}` : layer.name;
      const uses = usesInContainer(container, layer);
      const shared = uses > 1 ? path : sharedAncestor;
      if (isContainer(layer)) {
        visit(layer, path, shared);
        continue;
      }
      const className = layer.getClassName();
      if (className !== 'Dense' && className !== 'Conv2D') continue;
      linearNames.add(layer.name);
      if (isSkipped(layer, skip)) continue;
      if (shared != null) {
        throw new Error(
          `Layer '${path}' is applied at ${uses > 1 ? uses : 'several'} places of the graph` +
            `${shared !== path ? ` (through '${shared}')` : ''}; shared layers are not supported ` +
            'for preconditioning: exclude it with skipLayers',
        );
      }
      found.push({ layer, path, geometry: layerGeometry(layer, path) });
    }
  };
  visit(model, '', null);
  if (Array.isArray(skip)) {
    const unknown = skip.filter((name) => !linearNames.has(name));
    if (unknown.length > 0) {
      throw new Error(
        `skipLayers: ${unknown.map((n) => `'${n}'`).join(', ')} ` +
          `${unknown.length === 1 ? 'is' : 'are'} not the name of a Dense or Conv2D layer of ` +
          `this model; its Dense/Conv2D layers are ${[...linearNames].join(', ') || 'none'}`,
      );
    }
  }
  return found;
}
