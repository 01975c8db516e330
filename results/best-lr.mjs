// Prints the learning rate of the run with the best final test metric in a sweep's results.json
// (lowest test loss; highest test accuracy for classifiers; diverged runs never), warning when it
// is at the edge of the grid. Used by run-all.sh.
//   node results/best-lr.mjs results/<sweep>/results.json
import { readFileSync } from 'node:fs';

const [file] = process.argv.slice(2);
if (file == null) throw new Error('usage: node results/best-lr.mjs <results.json>');
const { runs } = JSON.parse(readFileSync(file, 'utf8'));
const score = (run) => {
  if (run.result.diverged != null) return Infinity;
  const last = run.result.epochs.at(-1);
  if (last == null) return Infinity;
  const value = run.result.task === 'classification' ? -last.testAccuracy : last.testLoss;
  return Number.isFinite(value) ? value : Infinity;
};
const best = runs.reduce((a, b) => (score(b) < score(a) ? b : a));
if (!Number.isFinite(score(best))) throw new Error(`${file}: no run has a finite test metric`);
// A best at the grid's edge means the optimum may lie outside it: say so (on stderr, so the
// printed lr stays usable) for the reading to state or the grid to be extended.
const grid = [...new Set(runs.map((run) => run.result.learningRate))].sort((a, b) => a - b);
const lr = best.result.learningRate;
if (grid.length > 2 && (lr === grid[0] || lr === grid.at(-1))) {
  console.error(`warning: ${file}: the best lr ${lr} is at the edge of the grid ${grid.join(', ')}`);
}
console.log(lr);
