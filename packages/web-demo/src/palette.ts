/** The colour of the `index`-th optimizer, the same in the charts and the sample rows. */
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

export function colorOf(index: number): string {
  return COLORS[index % COLORS.length]!;
}
