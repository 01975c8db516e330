/**
 * Kernel overrides that make training fast on the backends that install everywhere, and one
 * that makes it correct on WebGPU. They are registered through tfjs's public kernel registry,
 * keep the original kernel's setup/dispose functions, and never change correct results (only
 * how they are computed). Each override is a small entry of {@link OVERRIDES}: drop it when a
 * tfjs release fixes the kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type TensorInfo = tf.TensorInfo;
interface DisposableBackend {
  disposeData(dataId: object): void;
}

const MARK = Symbol('eva-tfjs.fastKernel');

/** The kernels the overrides replaced (null: the backend had none), by `backend/kernel`. */
const originals = new Map<string, tf.KernelConfig | null>();

/**
 * A kernel override: either it wraps the backend's own kernel (`wrap`, skipped when the
 * backend lacks it) or it provides a complete kernel (`provide`, registered even where the
 * backend has none).
 */
type Override = { kernelName: string; backendName: string } & (
  | { wrap(original: tf.KernelFunc, backendName: string): tf.KernelFunc }
  | { provide(backendName: string): tf.KernelFunc }
);

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

/** Runs kernels on one backend and releases every intermediate result at the end. */
function kernelRunner(backendName: string, backend: DisposableBackend) {
  const temporaries: TensorInfo[] = [];
  return {
    run(name: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>) {
      const out = callKernel(name, backendName, inputs, attrs, backend);
      temporaries.push(out);
      return out;
    },
    /** The final result: not released. */
    last(name: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>) {
      return callKernel(name, backendName, inputs, attrs, backend);
    },
    release() {
      for (const t of temporaries) backend.disposeData(t.dataId);
    },
  };
}

/**
 * wasm `BatchMatMul` with a transpose flag is ~10x slower than an explicit transpose followed
 * by the untransposed product (the Dense backward pass uses both flags).
 */
const wasmBatchMatMul: Override = {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  wrap: (original, backendName) => (args) => {
    const { inputs, attrs, backend } = args as unknown as {
      inputs: { a: TensorInfo; b: TensorInfo };
      attrs: { transposeA: boolean; transposeB: boolean };
      backend: DisposableBackend;
    };
    if (!attrs.transposeA && !attrs.transposeB) return original(args);
    const k = kernelRunner(backendName, backend);
    const untransposed = (x: TensorInfo, flag: boolean) =>
      flag ? k.run('Transpose', { x }, { perm: swapLastTwo(x.shape.length) }) : x;
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
      k.release();
    }
  },
};

/**
 * `Conv2DBackpropFilter` (the weight gradient of a convolution) expressed as one forward
 * convolution: with channels on the batch axis and samples on the channel axis,
 * `dW[i, j, c, o] = sum_{n,p,q} xpad[n, p*s + i, q*s + j, c] dy[n, p, q, o]` is a stride-1
 * convolution of `transpose(xpad)` with `transpose(dy)` dilated by the stride. wasm has no such
 * kernel at all (CNNs cannot train); cpu's is a naive loop ~40x slower than this.
 */
function conv2dBackpropFilter(backendName: string): Override {
  return {
    kernelName: 'Conv2DBackpropFilter',
    backendName,
    provide: () => (args) => {
      const { inputs, attrs, backend } = args as unknown as {
        inputs: { x: TensorInfo; dy: TensorInfo };
        attrs: {
          strides: number | [number, number];
          pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
          dataFormat: 'NHWC' | 'NCHW';
          dimRoundingMode?: 'floor' | 'round' | 'ceil';
          filterShape: [number, number, number, number];
        };
        backend: DisposableBackend;
      };
      if (attrs.dataFormat !== 'NHWC') {
        throw new Error(`Conv2DBackpropFilter (eva-tfjs, ${backendName}): only NHWC is supported`);
      }
      const info = tf.backend_util.computeConv2DInfo(
        inputs.x.shape as [number, number, number, number],
        attrs.filterShape,
        attrs.strides,
        1,
        attrs.pad,
        attrs.dimRoundingMode,
      );
      const [kh, kw, cin, cout] = attrs.filterShape;
      const k = kernelRunner(backendName, backend);
      const run = k.run;
      try {
        const { top, bottom, left, right } = info.padInfo;
        const padded =
          top || bottom || left || right
            ? run(
                'PadV2',
                { x: inputs.x },
                {
                  paddings: [
                    [0, 0],
                    [top, bottom],
                    [left, right],
                    [0, 0],
                  ],
                  constantValue: 0,
                },
              )
            : inputs.x;
        const images = run('Transpose', { x: padded }, { perm: [3, 1, 2, 0] });
        const filter = run('Transpose', { x: inputs.dy }, { perm: [1, 2, 0, 3] });
        const sums = run(
          'Conv2D',
          { x: images, filter },
          {
            strides: [1, 1],
            pad: 'valid',
            dataFormat: 'NHWC',
            dilations: [info.strideHeight, info.strideWidth],
          },
        );
        const window = run(
          'Slice',
          { x: sums },
          { begin: [0, 0, 0, 0], size: [cin, kh, kw, cout] },
        );
        return k.last('Transpose', { x: window }, { perm: [1, 2, 0, 3] });
      } finally {
        k.release();
      }
    },
  };
}

interface DepthwiseAttrs {
  strides: number | [number, number];
  dilations: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function depthwiseInfo(
  xShape: number[],
  filterShape: number[],
  attrs: DepthwiseAttrs,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
}

/**
 * `DepthwiseConv2dNativeBackpropFilter` (missing on wasm) as one depthwise convolution: with
 * the (channel, sample) pairs on the channel axis of a single image,
 * `dW[i, j, c, m] = sum_{n,p,q} xpad[n, p*s + i*d, q*s + j*d, c] dy[n, p, q, c*M + m]` is a
 * depthwise convolution of that image with `dy` as filter (multiplier M), stride d and dilation
 * s, followed by a sum over samples.
 */
const wasmDepthwiseBackpropFilter: Override = {
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  backendName: 'wasm',
  provide: (backendName) => (args) => {
    const { inputs, attrs, backend } = args as unknown as {
      inputs: { x: TensorInfo; dy: TensorInfo };
      attrs: DepthwiseAttrs & { filterShape: [number, number, number, number] };
      backend: DisposableBackend;
    };
    const [n, , , c] = inputs.x.shape as [number, number, number, number];
    const [kh, kw, , m] = attrs.filterShape;
    const info = depthwiseInfo(inputs.x.shape, attrs.filterShape, attrs);
    const k = kernelRunner(backendName, backend);
    try {
      const { top, bottom, left, right } = info.padInfo;
      const padded = k.run(
        'PadV2',
        { x: inputs.x },
        {
          paddings: [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
      const [, hp, wp] = padded.shape;
      const image = k.run(
        'Reshape',
        { x: k.run('Transpose', { x: padded }, { perm: [1, 2, 3, 0] }) },
        { shape: [1, hp, wp, c * n] },
      );
      const dy5 = k.run(
        'Reshape',
        { x: inputs.dy },
        { shape: [n, info.outHeight, info.outWidth, c, m] },
      );
      const filter = k.run(
        'Reshape',
        { x: k.run('Transpose', { x: dy5 }, { perm: [1, 2, 3, 0, 4] }) },
        { shape: [info.outHeight, info.outWidth, c * n, m] },
      );
      const sums = k.run(
        'DepthwiseConv2dNative',
        { x: image, filter },
        {
          strides: [info.dilationHeight, info.dilationWidth],
          pad: 'valid',
          dilations: [info.strideHeight, info.strideWidth],
        },
      );
      const window = k.run(
        'Slice',
        { x: sums },
        { begin: [0, 0, 0, 0], size: [1, kh, kw, c * n * m] },
      );
      const perSample = k.run('Reshape', { x: window }, { shape: [kh, kw, c, n, m] });
      return k.last('Sum', { x: perSample }, { axis: [3], keepDims: false });
    } finally {
      k.release();
    }
  },
};

/**
 * `DepthwiseConv2dNativeBackpropInput` (missing on wasm): `dy` with zeros inserted between its
 * positions (stride), padded for a full correlation, convolved depthwise with the flipped
 * filter (one output channel per (channel, multiplier) pair), summed over the multiplier and
 * cropped to the input.
 */
const wasmDepthwiseBackpropInput: Override = {
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  backendName: 'wasm',
  provide: (backendName) => (args) => {
    const { inputs, attrs, backend } = args as unknown as {
      inputs: { dy: TensorInfo; filter: TensorInfo };
      attrs: DepthwiseAttrs & { inputShape: [number, number, number, number] };
      backend: DisposableBackend;
    };
    const [n, h, w, c] = attrs.inputShape;
    const [kh, kw, , m] = inputs.filter.shape as [number, number, number, number];
    const info = depthwiseInfo(attrs.inputShape, inputs.filter.shape, attrs);
    const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
    const { outHeight: oh, outWidth: ow } = info;
    const { top, bottom, left, right } = info.padInfo;
    const k = kernelRunner(backendName, backend);
    try {
      // Zero insertion: [n, oh, 1, ow, 1, c*m] padded to [n, oh, sh, ow, sw, c*m].
      let dilated = inputs.dy;
      if (sh > 1 || sw > 1) {
        const spread = k.run(
          'PadV2',
          { x: k.run('Reshape', { x: inputs.dy }, { shape: [n, oh, 1, ow, 1, c * m] }) },
          {
            paddings: [
              [0, 0],
              [0, 0],
              [0, sh - 1],
              [0, 0],
              [0, sw - 1],
              [0, 0],
            ],
            constantValue: 0,
          },
        );
        dilated = k.run(
          'Slice',
          { x: k.run('Reshape', { x: spread }, { shape: [n, oh * sh, ow * sw, c * m] }) },
          { begin: [0, 0, 0, 0], size: [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, c * m] },
        );
      }
      const reachH = dh * (kh - 1);
      const reachW = dw * (kw - 1);
      const paddedHeight = h + top + bottom;
      const paddedWidth = w + left + right;
      const extraH = Math.max(0, paddedHeight - ((oh - 1) * sh + 1 + reachH));
      const extraW = Math.max(0, paddedWidth - ((ow - 1) * sw + 1 + reachW));
      const full = k.run(
        'PadV2',
        { x: dilated },
        {
          paddings: [
            [0, 0],
            [reachH, reachH + extraH],
            [reachW, reachW + extraW],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
      const flipped = k.run(
        'Reshape',
        { x: k.run('Reverse', { x: inputs.filter }, { dims: [0, 1] }) },
        { shape: [kh, kw, c * m, 1] },
      );
      const correlated = k.run(
        'DepthwiseConv2dNative',
        { x: full, filter: flipped },
        { strides: [1, 1], pad: 'valid', dilations: [dh, dw] },
      );
      const cropped = k.run(
        'Slice',
        { x: correlated },
        { begin: [0, top, left, 0], size: [n, h, w, c * m] },
      );
      const perMultiplier = k.run('Reshape', { x: cropped }, { shape: [n, h, w, c, m] });
      return k.last('Sum', { x: perMultiplier }, { axis: [4], keepDims: false });
    } finally {
      k.release();
    }
  },
};

/** What the wasm Slice override uses of the wasm backend. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): tf.TypedArray;
}

/**
 * wasm `Slice` copies its WHOLE input out of the wasm heap (`readSync`) on every call, then
 * copies the slice: about 3 ms per block slice of a 784 x 1000 gradient, whatever the block's
 * size (Shampoo slices every block twice per step). This one copies the slice's contiguous runs
 * straight from a view of the heap.
 */
const wasmSlice: Override = {
  kernelName: 'Slice',
  backendName: 'wasm',
  wrap: (original) => (args) => {
    const { inputs, attrs, backend } = args as unknown as {
      inputs: { x: TensorInfo };
      attrs: { begin: number | number[]; size?: number | number[] };
      backend: WasmHeapBackend;
    };
    const { x } = inputs;
    const rank = x.shape.length;
    if (x.dtype === 'string' || rank === 0) return original(args);
    const [begin, size] = tf.slice_util.parseSliceParams(
      x as unknown as tf.Tensor,
      attrs.begin,
      attrs.size,
    ) as [number[], number[]];
    // The output may grow the heap (detaching older views): view the input after making it.
    const out = backend.makeOutput(size, x.dtype);
    const source = backend.typedArrayFromHeap(x);
    const target = backend.typedArrayFromHeap(out);
    const strides = tf.util.computeStrides(x.shape);
    const run = size[rank - 1]!;
    const runs = tf.util.sizeFromShape(size.slice(0, -1));
    const index = new Array<number>(rank - 1).fill(0);
    for (let r = 0; r < runs && run > 0; r++) {
      let offset = begin[rank - 1]!;
      for (let a = 0; a < rank - 1; a++) offset += (begin[a]! + index[a]!) * strides[a]!;
      target.set(source.subarray(offset, offset + run), r * run);
      for (let a = rank - 2; a >= 0 && ++index[a]! === size[a]; a--) index[a] = 0;
    }
    return out;
  },
};

/**
 * Inputs one WebGPU AddN shader may bind: devices allow 8 storage buffers per shader stage
 * unless they ask for more, and the output takes one.
 */
const WEBGPU_ADDN_INPUTS = 7;

/**
 * tfjs-backend-webgpu 4.22 binds every input of `AddN` in one shader: past
 * {@link WEBGPU_ADDN_INPUTS} inputs the pipeline is invalid and the result is zeros, with only a
 * console warning. eva-tfjs adds one term per weight tensor (the finite check, norms), so this
 * sums in chunks the shader can bind (a tree of partial sums, released at the end).
 */
const webgpuAddN: Override = {
  kernelName: 'AddN',
  backendName: 'webgpu',
  wrap: (addN) => (args) => {
    let terms = args.inputs as unknown as TensorInfo[];
    if (terms.length <= WEBGPU_ADDN_INPUTS) return addN(args);
    const backend = args.backend as unknown as DisposableBackend;
    const partialSums: TensorInfo[] = [];
    const sum = (inputs: TensorInfo[]) =>
      addN({ ...args, inputs: inputs as unknown as tf.NamedTensorInfoMap }) as TensorInfo;
    while (terms.length > WEBGPU_ADDN_INPUTS) {
      const next: TensorInfo[] = [];
      for (let i = 0; i < terms.length; i += WEBGPU_ADDN_INPUTS) {
        const chunk = terms.slice(i, i + WEBGPU_ADDN_INPUTS);
        if (chunk.length === 1) {
          next.push(chunk[0]!);
          continue;
        }
        const partial = sum(chunk);
        partialSums.push(partial);
        next.push(partial);
      }
      terms = next;
    }
    const total = sum(terms);
    for (const partial of partialSums) backend.disposeData(partial.dataId);
    return total;
  },
};

const OVERRIDES: readonly Override[] = [
  wasmBatchMatMul,
  wasmSlice,
  conv2dBackpropFilter('wasm'),
  conv2dBackpropFilter('cpu'),
  wasmDepthwiseBackpropFilter,
  wasmDepthwiseBackpropInput,
  webgpuAddN,
];

/**
 * Registers the fast kernel overrides for every backend whose kernels are registered (import
 * `@tensorflow/tfjs-backend-wasm` / `-webgpu` first; on WebGPU it also fixes `AddN` with more
 * than 7 inputs, which tfjs-backend-webgpu 4.22 returns as zeros). Idempotent; safe before or
 * after `tf.setBackend`.
 * Returns the `backend/kernel` names that are now overridden.
 */
export function enableFastKernels(): string[] {
  const active: string[] = [];
  for (const override of OVERRIDES) {
    const config = tf.getKernel(override.kernelName, override.backendName);
    const id = `${override.backendName}/${override.kernelName}`;
    if ((config?.kernelFunc as unknown as Record<symbol, boolean> | undefined)?.[MARK]) {
      active.push(id);
      continue;
    }
    let kernelFunc: tf.KernelFunc;
    if ('wrap' in override) {
      if (config == null) continue;
      kernelFunc = override.wrap(config.kernelFunc, override.backendName);
    } else {
      // Only add a kernel to a backend that is registered at all.
      if (tf.getKernelsForBackend(override.backendName).length === 0) continue;
      kernelFunc = override.provide(override.backendName);
    }
    (kernelFunc as unknown as Record<symbol, boolean>)[MARK] = true;
    originals.set(id, config ?? null);
    if (config != null) tf.unregisterKernel(override.kernelName, override.backendName);
    tf.registerKernel({
      kernelName: override.kernelName,
      backendName: override.backendName,
      setupFunc: config?.setupFunc,
      disposeFunc: config?.disposeFunc,
      kernelFunc,
    });
    active.push(id);
  }
  return active;
}

/**
 * Restores the backends' own kernels (for measuring the overrides' effect in one process).
 * Returns the `backend/kernel` names that were restored or removed.
 */
export function disableFastKernels(): string[] {
  const restored: string[] = [];
  for (const [id, original] of originals) {
    const [backendName, kernelName] = id.split('/') as [string, string];
    const current = tf.getKernel(kernelName, backendName);
    if (!(current?.kernelFunc as unknown as Record<symbol, boolean> | undefined)?.[MARK]) continue;
    tf.unregisterKernel(kernelName, backendName);
    if (original != null) tf.registerKernel(original);
    restored.push(id);
  }
  originals.clear();
  return restored;
}
