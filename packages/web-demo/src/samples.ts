/**
 * The held-out test digits and, per optimizer, its reconstructions of them (autoencoder) or
 * its predicted labels (classifier), in the optimizer's colour.
 */
import * as tf from '@tensorflow/tfjs';
import { grayLevel, testBatch, TEST_SAMPLES, type Digits } from './data.js';

/** Draws one normalised 28x28 image into `canvas`. */
function drawImage(canvas: HTMLCanvasElement, pixels: ArrayLike<number>): void {
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = grayLevel(pixels[i]!);
    image.data.set([v, v, v, 255], i * 4);
  }
  ctx.putImageData(image, 0, 0);
}

/** Draws `values` into `cells`: 784 pixels per canvas, or one label per span. */
function fill(cells: readonly HTMLElement[], values: tf.TypedArray): void {
  cells.forEach((cell, i) => {
    if (cell instanceof HTMLCanvasElement) drawImage(cell, values.subarray(i * 784, (i + 1) * 784));
    else cell.textContent = String(values[i]);
  });
}

/** One row: a name, then `TEST_SAMPLES` canvases (images) or spans (labels). */
function row(container: HTMLElement, name: string, images: boolean, color: string): HTMLElement[] {
  const div = document.createElement('div');
  div.className = 'row';
  const label = document.createElement('span');
  label.className = 'name';
  label.textContent = name;
  label.style.color = color;
  div.append(label);
  const cells = Array.from({ length: TEST_SAMPLES }, () => {
    const cell = images ? document.createElement('canvas') : document.createElement('span');
    if (cell instanceof HTMLCanvasElement) {
      cell.width = 28;
      cell.height = 28;
    } else {
      cell.className = 'label';
    }
    div.append(cell);
    return cell;
  });
  container.append(div);
  return cells;
}

/** The sample rows. */
export class SampleRows {
  private cells: HTMLElement[][] = [];

  /** Rows go in `container`; `kind` says whether they are reconstructions or labels. */
  constructor(
    private readonly container: HTMLElement,
    private readonly kind: HTMLElement,
  ) {}

  /** Draws the test digits and starts one empty row per optimizer. */
  reset(digits: Digits, runs: ReadonlyArray<{ name: string; color: string }>, classifier: boolean) {
    this.container.replaceChildren();
    this.kind.textContent = classifier ? 'and the predicted labels' : 'and their reconstructions';
    const values = tf.tidy(() => testBatch(digits).dataSync());
    fill(row(this.container, 'digits', true, '#222'), values);
    this.cells = runs.map((r) => row(this.container, r.name, !classifier, r.color));
  }

  /** Draws each model's outputs for the test digits (in the order given to {@link reset}). */
  draw(digits: Digits, models: readonly tf.LayersModel[]): void {
    models.forEach((model, i) => {
      const out = tf.tidy(() => {
        const y = model.predict(testBatch(digits)) as tf.Tensor;
        return y.shape[1] === 784 ? y : tf.argMax(y, 1);
      });
      const values = out.dataSync();
      out.dispose();
      fill(this.cells[i]!, values);
    });
  }
}
