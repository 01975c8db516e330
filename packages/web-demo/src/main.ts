/**
 * The eva-tfjs browser demo: trains the same model from the same seed on the same MNIST batches
 * with several optimizers side by side, with live loss curves (per step and per second),
 * reconstructions (or predictions) of test digits, steps/s, and a backend selector. The
 * per-optimizer option fields come from the registry's declarations.
 *
 * URL parameters (see url-params.ts): `optimizers=sgd,eva`, `backend=wasm`, `model=mlp`, `lr`,
 * `batch`, `steps` (stop after this many steps per optimizer), `autostart=1`.
 *
 * This file wires the parts: backends.ts, data.ts, runs.ts, run-loop.ts, charts.ts,
 * samples.ts, controls.ts, option-controls.ts and demo-state.ts (`window.__evaDemo`).
 */
import { BACKENDS, chooseBackend, initialiseBackends } from './backends.js';
import { LossCharts } from './charts.js';
import {
  applyFields,
  backendSelect,
  byId,
  fillBackendSelect,
  fillOptimizerList,
  markBackendInUse,
  onSettingsChange,
  progressLine,
  readSettings,
  setStatus,
  showTraining,
} from './controls.js';
import { loadDigits, type Digits } from './data.js';
import { demo, publishDemoState } from './demo-state.js';
import { OptionControls } from './option-controls.js';
import { colorOf } from './palette.js';
import { RunLoop } from './run-loop.js';
import { createRun, disposeRun, optimizerOptions, type Run } from './runs.js';
import { SampleRows } from './samples.js';
import { readUrlParams } from './url-params.js';

publishDemoState();
initialiseBackends();

const charts = new LossCharts(byId('loss-steps'), byId('loss-time'));
const samples = new SampleRows(byId('rows'), byId('samples-kind'));
const optionControls = new OptionControls(byId('option-controls'), byId('optimizer-options'));

/** Builds one run per chosen optimizer from the form (replacing the previous ones). */
function buildRuns(digits: Digits, loop: RunLoop): void {
  const s = readSettings();
  optionControls.show(s.optimizers);
  const runs: Run[] = [];
  try {
    for (const name of s.optimizers) {
      const options = optimizerOptions(name, s.learningRate, optionControls.values(name));
      runs.push(createRun(name, s.model, options));
    }
  } catch (e) {
    // An invalid field: the library's message names the optimizer and the option.
    runs.forEach(disposeRun);
    loop.replaceRuns([]);
    charts.reset([]);
    samples.reset(digits, [], s.model === 'mlp');
    setStatus(`Error: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  loop.replaceRuns(runs);
  const series = runs.map((r, i) => ({ name: r.name, color: colorOf(i), losses: r.losses }));
  charts.reset(series);
  samples.reset(digits, series, s.model === 'mlp');
  setStatus(`Ready: ${runs.map((r) => r.name).join(' vs ')} on ${demo.backend}.`);
}

async function main(): Promise<void> {
  const params = readUrlParams();
  fillOptimizerList(params.optimizers);
  applyFields(params.fields);
  demo.backend = await chooseBackend(params.backend);
  fillBackendSelect(BACKENDS, demo.backend);
  const digits = await loadDigits();
  const loop = new RunLoop(digits, params.steps, {
    progress(runs, elapsedSeconds) {
      charts.update(runs.map((r, i) => ({ name: r.name, color: colorOf(i), losses: r.losses })));
      samples.draw(
        digits,
        runs.map((r) => r.model),
      );
      demo.reconstructionsDrawn += 1;
      setStatus(progressLine(demo.backend, runs, elapsedSeconds));
    },
    stopped(error) {
      showTraining(false);
      if (error != null) setStatus(`Error: ${String(error)}`);
    },
  });
  const rebuild = () => buildRuns(digits, loop);
  rebuild();

  byId('start').addEventListener('click', () => {
    if (loop.isRunning) return;
    showTraining(true);
    loop.start(readSettings().batch);
  });
  byId('pause').addEventListener('click', () => loop.pause());
  byId('reset').addEventListener('click', async () => {
    await loop.stop();
    rebuild();
  });
  const select = backendSelect();
  select.addEventListener('change', async () => {
    await loop.stop();
    demo.backend = await chooseBackend(select.value);
    markBackendInUse(demo.backend);
    rebuild();
  });
  onSettingsChange(() => !loop.isRunning && rebuild());
  byId('optimizer-options').addEventListener('change', () => !loop.isRunning && rebuild());
  if (params.autostart) byId('start').click();
}

main().catch((e: unknown) => {
  demo.errors.push(String(e));
  setStatus(`Error: ${String(e)}`);
});
