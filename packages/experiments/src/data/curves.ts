/**
 * The synthetic CURVES images of the autoencoder literature (Hinton & Salakhutdinov 2006):
 * 28x28 images of a smooth curve through three random points. Here the curve is the quadratic
 * through the three points (at t = 0, 1/2, 1), drawn with a Gaussian pen of width `penWidth`
 * pixels; intensities are in [0, 1], then normalised (as MNIST is, to its pixels' mean and standard
 * deviation) unless `normalize` is false. Seeded and deterministic; no labels (one class).
 */
import { normalize, type Dataset, type ImageSet } from './dataset.js';
import { seededRandom } from './random.js';

/**
 * Normalisation of CURVES (mean, std): its training pixels' mean and standard deviation at the
 * default settings (0.0641 and 0.2009), rounded. Unnormalised, the paper's ReLU autoencoder with
 * Glorot initialisation passes almost nothing of these sparse images through its decoder, and
 * every optimizer stalls at the mean image (test MSE 0.0371) within 10 epochs.
 */
export const CURVES_MEAN = 0.064;
export const CURVES_STD = 0.2;

/** Options of {@link generateCurves}. */
export interface CurvesOptions {
  /** Training images (default 20,000, the original's). */
  trainCount?: number;
  /** Test images (default 10,000). */
  testCount?: number;
  /** Image side in pixels (default 28). */
  size?: number;
  /** Gaussian pen standard deviation in pixels (default 0.8). */
  penWidth?: number;
  seed?: number;
  /** Normalise with {@link CURVES_MEAN} and {@link CURVES_STD} (default true). */
  normalize?: boolean;
}

function drawCurve(
  out: Float32Array,
  offset: number,
  size: number,
  pen: number,
  random: () => number,
): void {
  // Control points away from the border so most curves stay inside the image.
  const margin = 0.1 * size;
  const point = () => [
    margin + random() * (size - 2 * margin),
    margin + random() * (size - 2 * margin),
  ];
  const [p0, p1, p2] = [point(), point(), point()] as [number[], number[], number[]];
  const samples = 4 * size;
  const reach = Math.ceil(3 * pen);
  for (let s = 0; s <= samples; s++) {
    const t = s / samples;
    // Lagrange quadratic through p0 (t=0), p1 (t=1/2), p2 (t=1).
    const l0 = 2 * (t - 0.5) * (t - 1);
    const l1 = -4 * t * (t - 1);
    const l2 = 2 * t * (t - 0.5);
    const x = l0 * p0[0]! + l1 * p1[0]! + l2 * p2[0]!;
    const y = l0 * p0[1]! + l1 * p1[1]! + l2 * p2[1]!;
    const cx = Math.round(x);
    const cy = Math.round(y);
    for (let r = cy - reach; r <= cy + reach; r++) {
      if (r < 0 || r >= size) continue;
      for (let c = cx - reach; c <= cx + reach; c++) {
        if (c < 0 || c >= size) continue;
        const d2 = (c - x) ** 2 + (r - y) ** 2;
        const v = Math.exp(-d2 / (2 * pen * pen));
        const i = offset + r * size + c;
        if (v > out[i]!) out[i] = v;
      }
    }
  }
}

function generateSet(count: number, size: number, pen: number, random: () => number): ImageSet {
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`generateCurves: image counts must be positive integers, got ${count}`);
  }
  const images = new Float32Array(count * size * size);
  for (let i = 0; i < count; i++) drawCurve(images, i * size * size, size, pen, random);
  return { images, labels: new Uint8Array(count), count };
}

/** Generates the CURVES train and test sets. */
export function generateCurves(options: CurvesOptions = {}): Dataset {
  const size = options.size ?? 28;
  const pen = options.penWidth ?? 0.8;
  if (!Number.isInteger(size) || size < 4)
    throw new Error(`generateCurves: size must be an integer >= 4, got ${size}`);
  if (!(pen > 0)) throw new Error(`generateCurves: penWidth must be > 0, got ${pen}`);
  const random = seededRandom(options.seed ?? 0);
  const train = generateSet(options.trainCount ?? 20000, size, pen, random);
  const test = generateSet(options.testCount ?? 10000, size, pen, random);
  if (options.normalize ?? true) {
    normalize(train, CURVES_MEAN, CURVES_STD);
    normalize(test, CURVES_MEAN, CURVES_STD);
  }
  return { name: 'curves', height: size, width: size, channels: 1, classes: 1, train, test };
}
