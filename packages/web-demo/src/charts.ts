/**
 * The two Chart.js loss charts: training loss (log scale) against steps and against the
 * optimizer's own wall-clock seconds, one line per optimizer.
 */
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

/** One recorded loss: after `step` steps, `seconds` into the run, at `learningRate`. */
export interface LossPoint {
  step: number;
  seconds: number;
  loss: number;
  learningRate: number;
}

/** One line: an optimizer's name, colour and losses so far. */
export interface LossSeries {
  name: string;
  color: string;
  losses: readonly LossPoint[];
}

type LineChart = Chart<'line', Array<{ x: number; y: number }>>;

function lineChart(canvas: HTMLCanvasElement, xTitle: string): LineChart {
  return new Chart(canvas, {
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

/** The loss-by-step and loss-by-time charts. */
export class LossCharts {
  private readonly byStep: LineChart;
  private readonly byTime: LineChart;

  constructor(stepsCanvas: HTMLCanvasElement, timeCanvas: HTMLCanvasElement) {
    this.byStep = lineChart(stepsCanvas, 'step');
    this.byTime = lineChart(timeCanvas, 'seconds');
  }

  /** Starts empty lines for `series` (their losses are not drawn until {@link update}). */
  reset(series: readonly LossSeries[]): void {
    for (const chart of [this.byStep, this.byTime]) {
      chart.data.datasets = series.map((s) => ({
        label: s.name,
        data: [],
        borderColor: s.color,
        backgroundColor: s.color,
        borderWidth: 2,
      }));
      chart.update('none');
    }
  }

  /** Redraws the lines from `series` (in the order given to {@link reset}). */
  update(series: readonly LossSeries[]): void {
    series.forEach((s, i) => {
      this.byStep.data.datasets[i]!.data = s.losses.map((p) => ({ x: p.step, y: p.loss }));
      this.byTime.data.datasets[i]!.data = s.losses.map((p) => ({ x: p.seconds, y: p.loss }));
    });
    this.byStep.update('none');
    this.byTime.update('none');
  }
}
