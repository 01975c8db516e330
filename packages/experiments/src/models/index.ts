/**
 * The experiments' models (browser-safe: no Node built-ins): the paper's autoencoder, an MLP, a
 * VGG-style and a ResNet-style CNN, and PyTorch-style initialisation.
 * @packageDocumentation
 */
export { createAutoencoder, AUTOENCODER_HIDDEN } from './autoencoder.js';
export { createMlp, createVgg, createResnet, type ClassifierShape } from './classifiers.js';
export { createModel, MODEL_NAMES, type ModelName, type ExperimentModel } from './create-model.js';
export { initializeLikePyTorch } from './initialize.js';
