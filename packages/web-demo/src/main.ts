/**
 * The eva-tfjs browser demo: trains the same model from the same seed on the same MNIST batches
 * with several optimizers side by side, with live loss curves (per step and per second),
 * reconstructions (or predictions) of test digits, steps/s, and a backend selector.
 *
 * URL parameters (for sharing and for the end-to-end test): `optimizers=sgd,eva`,
 * `backend=wasm`, `model=mlp`, `lr`, `batch`, `steps` (stop after this many steps per optimizer),
 * `autostart=1`.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import {
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Tooltip,
} from 'chart.js';
import { createOptimizerByName, enableFastKernels, optimizerNames } from 'eva-tfjs';
import { createAutoencoder, createMlp, initializeLikePyTorch } from '@eva-tfjs/experiments/models';

Chart.register(
  LineController,
  LineElement,
  PointElement,
  LinearScale,
  LogarithmicScale,
  CategoryScale,
  Legend,
  Tooltip,
);
setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
});
enableFastKernels();

const MNIST_MEAN = 0.1307;
const MNIST_STD = 0.3081;
const SAMPLES = 8;
const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#9467bd',
  '#ff7f0e',
  '#8c564b',
  '#e377c2',
  '#17becf',
];
const params = new URLSearchParams(location.search);
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

interface Run {
  name: string;
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
  steps: number;
  seconds: number;
  losses: Array<{ step: number; seconds: number; loss: number }>;
  canvases: HTMLElement[];
}

/** What the page exposes for tests and curious users. */
const demo = {
  backend: '',
  done: false,
  running: false,
  errors: [] as string[],
  runs: [] as Array<{ name: string; steps: number; firstLoss: number; lastLoss: number }>,
  reconstructionsDrawn: 0,
};
(window as unknown as { __evaDemo: typeof demo }).__evaDemo = demo;
window.addEventListener('error', (e) => demo.errors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => demo.errors.push(String(e.reason)));

// ---- data -------------------------------------------------------------------------------------
async function loadDigits(): Promise<{ x: tf.Tensor2D; labels: Uint8Array; count: number }> {
  const response = await fetch(new URL('digits.bin', document.baseURI));
  if (!response.ok) throw new Error(`digits.bin: HTTP ${response.status} (run npm run web)`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const count = new DataView(bytes.buffer).getUint32(0, true);
  const labels = bytes.slice(4, 4 + count);
  const pixels = new Float32Array(count * 784);
  for (let i = 0; i < pixels.length; i++)
    pixels[i] = (bytes[4 + count + i]! / 255 - MNIST_MEAN) / MNIST_STD;
  return { x: tf.tensor2d(pixels, [count, 784]), labels, count };
}

// ---- backends ---------------------------------------------------------------------------------
const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'];
async function chooseBackend(requested: string | null): Promise<string> {
  const order = requested ? [requested, ...BACKENDS.filter((b) => b !== requested)] : BACKENDS;
  for (const name of order) {
    try {
      if (name === 'webgpu' && !('gpu' in navigator)) continue;
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // try the next one
    }
  }
  throw new Error('no TensorFlow.js backend could be initialised');
}

// ---- charts -----------------------------------------------------------------------------------
function lineChart(id: string, xTitle: string): Chart<'line', Array<{ x: number; y: number }>> {
  return new Chart($<HTMLCanvasElement>(id), {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      scales: {
        x: { type: 'linear', title: { display: true, text: xTitle } },
        y: { type: 'logarithmic', title: { display: true, text: 'training loss' } },
      },
      plugins: { legend: { position: 'top' } },
      elements: { point: { radius: 0 } },
    },
  });
}
const byStep = lineChart('loss-steps', 'step');
const byTime = lineChart('loss-time', 'seconds');

// ---- state ------------------------------------------------------------------------------------
let data: Awaited<ReturnType<typeof loadDigits>> | null = null;
let runs: Run[] = [];
let running = false;
let stopAfter = Number(params.get('steps') ?? Infinity);

function settings() {
  const number = (id: string) => Number($<HTMLInputElement>(id).value);
  const chosen = [...document.querySelectorAll<HTMLInputElement>('#optimizers input:checked')].map(
    (i) => i.value,
  );
  return {
    optimizers: chosen,
    model: $<HTMLSelectElement>('model').value,
    lr: number('lr'),
    batch: Math.max(1, Math.round(number('batch'))),
    damping: number('damping'),
    klClip: number('klclip'),
  };
}

function optionsFor(name: string, s: ReturnType<typeof settings>): Record<string, unknown> {
  const options: Record<string, unknown> = { learningRate: s.lr, weightDecay: 5e-4 };
  if (['eva', 'kfac'].includes(name)) options.klClip = s.klClip;
  if (['eva', 'evaf', 'evas', 'kfac', 'foof'].includes(name)) options.damping = s.damping;
  if (['kfac', 'foof', 'shampoo'].includes(name)) options.invUpdateFreq = 10;
  if (name === 'mfac') options.m = 8;
  return options;
}

function buildRuns(): void {
  for (const run of runs) {
    run.model.dispose();
    run.optimizer.dispose();
  }
  const s = settings();
  $('rows').replaceChildren();
  $('samples-kind').textContent =
    s.model === 'mlp' ? 'and the predicted labels' : 'and their reconstructions';
  const digitsRow = row('digits', SAMPLES, true);
  drawDigits(digitsRow);
  runs = s.optimizers.map((name, i) => {
    const model =
      s.model === 'mlp'
        ? createMlp({ height: 28, width: 28, channels: 1, classes: 10 })
        : createAutoencoder();
    initializeLikePyTorch(model, 0);
    const optimizer = createOptimizerByName(
      name,
      model,
      optionsFor(name, s) as { learningRate: number },
    );
    model.compile({
      optimizer,
      loss: s.model === 'mlp' ? 'categoricalCrossentropy' : 'meanSquaredError',
    });
    return {
      name,
      model,
      optimizer,
      steps: 0,
      seconds: 0,
      losses: [],
      canvases: row(name, SAMPLES, s.model !== 'mlp', COLORS[i % COLORS.length]),
    };
  });
  for (const chart of [byStep, byTime]) {
    chart.data.datasets = runs.map((r, i) => ({
      label: r.name,
      data: [],
      borderColor: COLORS[i % COLORS.length],
      backgroundColor: COLORS[i % COLORS.length],
      borderWidth: 2,
    }));
    chart.update('none');
  }
  demo.done = false;
  demo.runs = [];
  $('status').textContent = `Ready: ${runs.map((r) => r.name).join(' vs ')} on ${demo.backend}.`;
}

function row(name: string, count: number, images: boolean, color = '#222'): HTMLElement[] {
  const div = document.createElement('div');
  div.className = 'row';
  const label = document.createElement('span');
  label.className = 'name';
  label.textContent = name;
  label.style.color = color;
  div.append(label);
  const cells = Array.from({ length: count }, () => {
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
  $('rows').append(div);
  return cells;
}

function drawImage(
  canvas: HTMLCanvasElement,
  pixels: Float32Array | Int32Array | Uint8Array,
): void {
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.max(0, Math.min(255, Math.round((pixels[i]! * MNIST_STD + MNIST_MEAN) * 255)));
    image.data.set([v, v, v, 255], i * 4);
  }
  ctx.putImageData(image, 0, 0);
}

function testBatch(): tf.Tensor2D {
  return tf.slice(data!.x, [data!.count - SAMPLES, 0], [SAMPLES, 784]);
}

function drawDigits(cells: HTMLElement[]): void {
  const values = tf.tidy(() => testBatch()).dataSync() as Float32Array;
  cells.forEach((c, i) =>
    drawImage(c as HTMLCanvasElement, values.subarray(i * 784, (i + 1) * 784)),
  );
}

function drawSamples(): void {
  for (const run of runs) {
    const out = tf.tidy(() => {
      const y = run.model.predict(testBatch()) as tf.Tensor;
      return y.shape[1] === 784 ? y : tf.argMax(y, 1);
    });
    const values = out.dataSync();
    out.dispose();
    run.canvases.forEach((cell, i) => {
      if (cell instanceof HTMLCanvasElement)
        drawImage(cell, (values as Float32Array).subarray(i * 784, (i + 1) * 784));
      else cell.textContent = String(values[i]);
    });
  }
  demo.reconstructionsDrawn += 1;
}

// ---- training ---------------------------------------------------------------------------------
async function train(): Promise<void> {
  if (data == null) return;
  running = true;
  demo.running = true;
  const s = settings();
  const trainCount = data.count - SAMPLES;
  const classifier = s.model === 'mlp';
  const started = performance.now();
  let lastUi = 0;
  while (running) {
    for (const run of runs) {
      if (run.steps >= stopAfter) continue;
      const start = (run.steps * s.batch) % Math.max(1, trainCount - s.batch);
      const x = tf.slice(data.x, [start, 0], [s.batch, 784]);
      const y = classifier
        ? tf.tidy(() =>
            tf
              .oneHot(tf.tensor1d(data!.labels.subarray(start, start + s.batch), 'int32'), 10)
              .toFloat(),
          )
        : x;
      const t0 = performance.now();
      const loss = (await run.model.trainOnBatch(x, y)) as number;
      run.seconds += (performance.now() - t0) / 1000;
      run.steps += 1;
      x.dispose();
      if (y !== x) y.dispose();
      run.losses.push({ step: run.steps, seconds: run.seconds, loss });
    }
    const now = performance.now();
    const finished = runs.every((r) => r.steps >= stopAfter);
    if (now - lastUi > 250 || finished) {
      lastUi = now;
      runs.forEach((r, i) => {
        byStep.data.datasets[i]!.data = r.losses.map((p) => ({ x: p.step, y: p.loss }));
        byTime.data.datasets[i]!.data = r.losses.map((p) => ({ x: p.seconds, y: p.loss }));
      });
      byStep.update('none');
      byTime.update('none');
      drawSamples();
      const rates = runs.map(
        (r) =>
          `${r.name} ${(r.steps / Math.max(r.seconds, 1e-9)).toFixed(1)} steps/s, loss ${r.losses.at(-1)?.loss.toFixed(4) ?? '-'}`,
      );
      $('status').textContent =
        `${demo.backend} | ${((now - started) / 1000).toFixed(0)} s | ${rates.join(' | ')}`;
      demo.runs = runs.map((r) => ({
        name: r.name,
        steps: r.steps,
        firstLoss: r.losses[0]?.loss ?? NaN,
        lastLoss: r.losses.at(-1)?.loss ?? NaN,
      }));
    }
    if (finished) {
      demo.done = true;
      break;
    }
    await tf.nextFrame();
  }
  running = false;
  demo.running = false;
  $<HTMLButtonElement>('start').disabled = false;
  $<HTMLButtonElement>('pause').disabled = true;
}

// ---- controls ---------------------------------------------------------------------------------
async function main(): Promise<void> {
  const chosen = (params.get('optimizers') ?? 'sgd,eva').split(',');
  $('optimizers').replaceChildren(
    ...optimizerNames().map((name) => {
      const label = document.createElement('label');
      label.style.flexDirection = 'row';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = name;
      box.checked = chosen.includes(name);
      label.append(box, ` ${name}`);
      return label;
    }),
  );
  for (const [id, key] of [
    ['lr', 'lr'],
    ['batch', 'batch'],
    ['model', 'model'],
  ] as const) {
    const value = params.get(key);
    if (value != null) $<HTMLInputElement>(id).value = value;
  }
  demo.backend = await chooseBackend(params.get('backend'));
  const backendSelect = $<HTMLSelectElement>('backend');
  backendSelect.replaceChildren(
    ...BACKENDS.map((b) => {
      const option = document.createElement('option');
      option.value = b;
      option.textContent = b === demo.backend ? `${b} (in use)` : b;
      return option;
    }),
  );
  backendSelect.value = demo.backend;
  backendSelect.addEventListener('change', async () => {
    running = false;
    demo.backend = await chooseBackend(backendSelect.value);
    [...backendSelect.options].forEach(
      (o) => (o.textContent = o.value === demo.backend ? `${o.value} (in use)` : o.value),
    );
    buildRuns();
  });
  data = await loadDigits();
  buildRuns();
  $('start').addEventListener('click', () => {
    if (running) return;
    if (runs.length === 0 || runs.every((r) => r.steps >= stopAfter)) {
      stopAfter = Infinity;
    }
    $<HTMLButtonElement>('start').disabled = true;
    $<HTMLButtonElement>('pause').disabled = false;
    void train();
  });
  $('pause').addEventListener('click', () => {
    running = false;
  });
  $('reset').addEventListener('click', () => {
    running = false;
    setTimeout(buildRuns, 50);
  });
  for (const id of ['model', 'lr', 'batch', 'damping', 'klclip'])
    $(id).addEventListener('change', () => !running && buildRuns());
  $('optimizers').addEventListener('change', () => !running && buildRuns());
  if (params.get('autostart') === '1') $('start').click();
}

main().catch((e: unknown) => {
  demo.errors.push(String(e));
  $('status').textContent = `Error: ${String(e)}`;
});
