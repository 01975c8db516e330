/** An in-memory image dataset with labels, split into train and test. */

/** Images as flat float rows plus integer labels. */
export interface ImageSet {
  /** `count * height * width * channels` values, row-major, channels last. */
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

/** A train/test pair with the image geometry. */
export interface Dataset {
  name: string;
  height: number;
  width: number;
  channels: number;
  classes: number;
  train: ImageSet;
  test: ImageSet;
}

/** Normalises pixel values in place: `(x - mean) / std`. */
export function normalize(set: ImageSet, mean: number, std: number): void {
  const { images } = set;
  for (let i = 0; i < images.length; i++) images[i] = (images[i]! - mean) / std;
}

/** The subset of `set` at the given sample indices, in that order. */
export function takeSamples(
  set: ImageSet,
  indices: ArrayLike<number>,
  sampleSize: number,
): ImageSet {
  const images = new Float32Array(indices.length * sampleSize);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    images.set(set.images.subarray(i * sampleSize, (i + 1) * sampleSize), k * sampleSize);
    labels[k] = set.labels[i]!;
  }
  return { images, labels, count: indices.length };
}
