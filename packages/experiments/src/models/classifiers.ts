/**
 * The classifiers of the experiments, sized to train on a 2-core machine: an MLP, a VGG-style
 * CNN with BatchNorm and a ResNet-style CNN with residual connections (a functional model).
 * Convolutions are channels-last without dilation, which the layer capture supports.
 */
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * BatchNorm as in the paper's PyTorch models: PyTorch's default momentum 0.1 keeps 0.9 of the
 * running statistics per step (tfjs `momentum: 0.9`). tfjs's default 0.99 tracks ten times
 * slower; with second-order updates, which move the convolutions' output statistics faster
 * than SGD, the lagging running statistics made evaluation much worse than training
 * (results/README.md).
 */
function batchNorm(): tfl.layers.Layer {
  return tfl.layers.batchNormalization({ momentum: 0.9 });
}

/** Input geometry and class count. */
export interface ClassifierShape {
  height: number;
  width: number;
  channels: number;
  classes: number;
}

/** MLP `pixels-hidden...-classes` with ReLU and a softmax output (flat input). */
export function createMlp(
  shape: ClassifierShape,
  hidden: readonly number[] = [256, 128],
): tfl.Sequential {
  const model = tfl.sequential({ name: 'mlp' });
  hidden.forEach((units, i) =>
    model.add(
      tfl.layers.dense({
        units,
        activation: 'relu',
        ...(i === 0 ? { inputShape: [shape.height * shape.width * shape.channels] } : {}),
      }),
    ),
  );
  model.add(tfl.layers.dense({ units: shape.classes, activation: 'softmax' }));
  return model;
}

/**
 * VGG-style CNN: blocks of two 3x3 convolutions (BatchNorm, ReLU) and 2x2 max pooling with
 * `widths` channels, then a hidden Dense layer and a softmax output.
 */
export function createVgg(
  shape: ClassifierShape,
  widths: readonly number[] = [16, 32, 64],
): tfl.Sequential {
  const model = tfl.sequential({ name: 'vgg' });
  widths.forEach((filters, block) => {
    for (let i = 0; i < 2; i++) {
      model.add(
        tfl.layers.conv2d({
          filters,
          kernelSize: 3,
          padding: 'same',
          useBias: false,
          ...(block === 0 && i === 0
            ? { inputShape: [shape.height, shape.width, shape.channels] }
            : {}),
        }),
      );
      model.add(batchNorm());
      model.add(tfl.layers.activation({ activation: 'relu' }));
    }
    model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  });
  model.add(tfl.layers.flatten());
  model.add(tfl.layers.dense({ units: 128, activation: 'relu' }));
  model.add(tfl.layers.dense({ units: shape.classes, activation: 'softmax' }));
  return model;
}

function convBn(
  x: tfl.SymbolicTensor,
  filters: number,
  kernelSize: number,
  strides: number,
): tfl.SymbolicTensor {
  const conv = tfl.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false });
  return batchNorm().apply(conv.apply(x)) as tfl.SymbolicTensor;
}

/**
 * ResNet-style CNN (functional): a 3x3 stem, one basic residual block per stage with `widths`
 * channels (stride 2 and a 1x1 projection shortcut from the second stage on), global average
 * pooling and a softmax output.
 */
export function createResnet(
  shape: ClassifierShape,
  widths: readonly number[] = [16, 32, 64],
): tfl.LayersModel {
  const input = tfl.input({ shape: [shape.height, shape.width, shape.channels] });
  const relu = () => tfl.layers.activation({ activation: 'relu' });
  let x = relu().apply(convBn(input, widths[0]!, 3, 1)) as tfl.SymbolicTensor;
  widths.forEach((filters, stage) => {
    const strides = stage === 0 ? 1 : 2;
    const h = relu().apply(convBn(x, filters, 3, strides)) as tfl.SymbolicTensor;
    const residual = convBn(h, filters, 3, 1);
    const shortcut = stage === 0 ? x : convBn(x, filters, 1, strides);
    x = relu().apply(tfl.layers.add().apply([residual, shortcut])) as tfl.SymbolicTensor;
  });
  x = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
  const output = tfl.layers
    .dense({ units: shape.classes, activation: 'softmax' })
    .apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: output, name: 'resnet' });
}
