/** The paper's deep autoencoder (Fig. 4 and the reference example script). */
import * as tfl from '@tensorflow/tfjs-layers';

/** Hidden sizes of the paper's 8-layer autoencoder. */
export const AUTOENCODER_HIDDEN = [1000, 500, 250, 30, 250, 500, 1000] as const;

/**
 * Dense `inputSize-1000-500-250-30-250-500-1000-inputSize` with ReLU after every layer except
 * the 30-unit code layer and the output layer, as in the reference code.
 * @param inputSize flattened image size (784 for 28x28)
 * @param hidden hidden layer sizes; the code layer is the smallest one
 */
export function createAutoencoder(
  inputSize = 784,
  hidden: readonly number[] = AUTOENCODER_HIDDEN,
): tfl.Sequential {
  const codeIndex = hidden.indexOf(Math.min(...hidden));
  const model = tfl.sequential({ name: 'autoencoder' });
  hidden.forEach((units, i) => {
    model.add(
      tfl.layers.dense({
        units,
        activation: i === codeIndex ? 'linear' : 'relu',
        ...(i === 0 ? { inputShape: [inputSize] } : {}),
      }),
    );
  });
  model.add(tfl.layers.dense({ units: inputSize, activation: 'linear' }));
  return model;
}
