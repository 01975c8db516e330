/** Every model of the experiments by name, with the task it is trained on. */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Dataset } from '../data/dataset.js';
import { createAutoencoder } from './autoencoder.js';
import { createMlp, createResnet, createVgg } from './classifiers.js';

/** The model names {@link createModel} accepts. */
export const MODEL_NAMES = ['autoencoder', 'mlp', 'vgg', 'resnet'] as const;

/** A model name. */
export type ModelName = (typeof MODEL_NAMES)[number];

/** A model with how it consumes data. */
export interface ExperimentModel {
  model: tfl.LayersModel;
  /** `reconstruction`: MSE against the flattened input; `classification`: cross-entropy. */
  task: 'reconstruction' | 'classification';
  /** Whether inputs are flat vectors or `[h, w, c]` images. */
  input: 'flat' | 'image';
}

/** Builds model `name` for `data`'s geometry; unknown names list the valid ones. */
export function createModel(name: string, data: Dataset): ExperimentModel {
  const shape = {
    height: data.height,
    width: data.width,
    channels: data.channels,
    classes: data.classes,
  };
  const pixels = data.height * data.width * data.channels;
  const classifier = () => {
    if (data.classes < 2) {
      throw new Error(
        `Model '${name}' is a classifier; dataset '${data.name}' has no class labels`,
      );
    }
  };
  switch (name) {
    case 'autoencoder':
      return { model: createAutoencoder(pixels), task: 'reconstruction', input: 'flat' };
    case 'mlp':
      classifier();
      return { model: createMlp(shape), task: 'classification', input: 'flat' };
    case 'vgg':
      classifier();
      return { model: createVgg(shape), task: 'classification', input: 'image' };
    case 'resnet':
      classifier();
      return { model: createResnet(shape), task: 'classification', input: 'image' };
    default:
      throw new Error(`Unknown model '${name}'; valid names are ${MODEL_NAMES.join(', ')}`);
  }
}
