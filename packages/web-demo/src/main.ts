/**
 * The eva-tfjs browser demo: trains the same model from the same seed on the same MNIST batches
 * with several optimizers side by side, each at its own tuned learning rate behind a warm-up,
 * with live loss curves (per step and per second), reconstructions (or predictions) of test
 * digits, a "time to reach loss X" readout, steps/s, and a backend selector. The per-optimizer
 * option fields come from the registry's declarations.
 *
 * URL parameters: see url-params.ts. This file wires the parts: backends.ts, data.ts, runs.ts,
 * run-loop.ts, schedule.ts, charts.ts, samples.ts, target-readout.ts, controls.ts,
 * option-controls.ts, tuned-settings.ts and demo-state.ts (`window.__evaDemo`).
 */
import { BACKENDS, chooseBackend, initialiseBackends } from './backends.js';
import { LossCharts } from './charts.js';
import {
  applyFields,
  backendSelect,
  byId,
  fillBackendSelect,
  fillOptimizerList,
  lockSettings,
  markBackendInUse,
  onSettingsChange,
  progressLine,
  readSettings,
  readTarget,
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
import { TargetReadout } from './target-readout.js';
import { DEFAULT_SETTINGS } from './tuned-settings.js';
import { readUrlParams } from './url-params.js';

publishDemoState();
initialiseBackends();

const params = readUrlParams();
const charts = new LossCharts(byId('loss-steps'), byId('loss-time'));
const samples = new SampleRows(byId('rows'), byId('samples-kind'));
const readout = new TargetReadout(byId('readout-rows'));
const optionControls = new OptionControls(
  byId('option-controls'),
  byId('optimizer-options'),
  params.learningRates,
);

/** The runs' lines: name, colour and losses. */
function seriesOf(runs: readonly Run[]) {
  return runs.map((r, i) => ({ name: r.name, color: colorOf(i), losses: r.losses }));
}

/** Redraws the readout for the current target. */
function updateReadout(runs: readonly Run[]): void {
  demo.target = readTarget();
  demo.readout = readout.update(seriesOf(runs), demo.target);
}

/** Builds one run per chosen optimizer from the form (replacing the previous ones). */
function buildRuns(digits: Digits, loop: RunLoop): void {
  const s = readSettings();
  optionControls.show(s.optimizers, s.model);
  const runs: Run[] = [];
  try {
    for (const name of s.optimizers) {
      const learningRate = optionControls.learningRate(name);
      const options = optimizerOptions(name, learningRate, optionControls.values(name));
      runs.push(createRun(name, s.model, options));
    }
  } catch (e) {
    // An invalid field: the library's message names the optimizer and the option.
    runs.forEach(disposeRun);
    loop.replaceRuns([]);
    charts.reset([]);
    samples.reset(digits, [], s.model === 'mlp');
    updateReadout([]);
    setStatus(`Error: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  loop.replaceRuns(runs);
  charts.reset(seriesOf(runs));
  samples.reset(digits, seriesOf(runs), s.model === 'mlp');
  updateReadout(runs);
  const rates = runs.map((r) => `${r.name} (lr ${r.learningRate})`).join(' vs ');
  const failures = demo.backendFailures.length > 0 ? ` (${demo.backendFailures.join('; ')})` : '';
  setStatus(`Ready: ${rates} on ${demo.backend}${failures}, ${s.steps} steps.`);
}

/** Sets the form's defaults, then the fields given in the URL. */
function fillForm(): void {
  applyFields({
    batch: String(DEFAULT_SETTINGS.batch),
    steps: String(DEFAULT_SETTINGS.steps),
    warmup: String(DEFAULT_SETTINGS.warmupSteps),
    decay: DEFAULT_SETTINGS.decay,
  });
  applyFields(params.fields);
  if (params.fields.target == null) resetTarget();
}

/** Sets the target loss to the chosen model's default. */
function resetTarget(): void {
  byId<HTMLInputElement>('target').value = String(DEFAULT_SETTINGS.target[readSettings().model]);
}

async function useBackend(requested: string | null): Promise<void> {
  const choice = await chooseBackend(requested);
  demo.backend = choice.name;
  demo.backendFailures = choice.failures;
}

async function main(): Promise<void> {
  fillOptimizerList(params.optimizers);
  fillForm();
  await useBackend(params.backend);
  fillBackendSelect(BACKENDS, demo.backend);
  const digits = await loadDigits();
  const loop = new RunLoop(digits, {
    progress(runs, elapsedSeconds) {
      charts.update(seriesOf(runs));
      samples.draw(
        digits,
        runs.map((r) => r.model),
      );
      demo.reconstructionsDrawn += 1;
      updateReadout(runs);
      setStatus(progressLine(demo.backend, runs, elapsedSeconds));
    },
    stopped(error) {
      showTraining(false);
      lockSettings(false);
      if (error != null) setStatus(`Error: ${String(error)}`);
    },
  });
  const rebuild = () => buildRuns(digits, loop);
  rebuild();

  byId('start').addEventListener('click', () => {
    const s = readSettings();
    if (!loop.start({ ...s, totalSteps: s.steps })) {
      if (loop.reached(s.steps)) setStatus(`Finished ${s.steps} steps: raise Steps, or Reset.`);
      return;
    }
    showTraining(true);
    lockSettings(true);
  });
  byId('pause').addEventListener('click', () => loop.pause());
  byId('reset').addEventListener('click', async () => {
    await loop.stop();
    rebuild();
  });
  const select = backendSelect();
  select.addEventListener('change', async () => {
    await loop.stop();
    await useBackend(select.value);
    markBackendInUse(demo.backend);
    rebuild();
  });
  byId('model').addEventListener('change', resetTarget);
  onSettingsChange(
    () => !loop.isRunning && rebuild(),
    () => updateReadout(loop.currentRuns),
  );
  if (params.autostart) byId('start').click();
}

main().catch((e: unknown) => {
  demo.errors.push(String(e));
  setStatus(`Error: ${String(e)}`);
});
