/**
 * Run under mpirun: allreduce (sync and async) and broadcast of Float32Arrays from 1 element to
 * several MB against their expected values. Prints one JSON line from rank 0.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const mpi = require('@eva-tfjs/mpi') as {
  init(): void;
  rank(): number;
  size(): number;
  finalize(): void;
  allreduceSum(d: Float32Array): Promise<Float32Array>;
  allreduceAverage(d: Float32Array): Promise<Float32Array>;
  allreduceSumSync(d: Float32Array): Float32Array;
  broadcast(d: Float32Array, root?: number): Promise<Float32Array>;
  broadcastSync(d: Float32Array, root?: number): Float32Array;
  barrier(): Promise<void>;
};
mpi.init();
const rank = mpi.rank();
const size = mpi.size();
const failures: string[] = [];
const value = (r: number, i: number) => ((r + 1) * ((i % 97) + 1)) / 8;
for (const n of [1, 7, 1000, 65_537, (1 << 20) + 3]) {
  for (const mode of ['sync', 'async', 'average'] as const) {
    const data = Float32Array.from({ length: n }, (_, i) => value(rank, i));
    if (mode === 'sync') mpi.allreduceSumSync(data);
    else if (mode === 'async') await mpi.allreduceSum(data);
    else await mpi.allreduceAverage(data);
    for (let i = 0; i < n; i++) {
      let expected = 0;
      for (let r = 0; r < size; r++) expected += value(r, i);
      if (mode === 'average') expected /= size;
      if (Math.abs(data[i]! - expected) > 1e-6 * Math.abs(expected)) {
        failures.push(`${mode} allreduce n=${n} [${i}]: ${data[i]} != ${expected}`);
        break;
      }
    }
  }
  for (const root of [0, size - 1]) {
    const data = new Float32Array(n);
    if (rank === root) for (let i = 0; i < n; i++) data[i] = value(root, i) + 0.5;
    if (root === 0) await mpi.broadcast(data, root);
    else mpi.broadcastSync(data, root);
    for (let i = 0; i < n; i++) {
      if (data[i] !== value(root, i) + 0.5) {
        failures.push(`broadcast n=${n} root=${root} [${i}] on rank ${rank}`);
        break;
      }
    }
  }
}
const count = new Float32Array([failures.length]);
mpi.allreduceSumSync(count);
await mpi.barrier();
if (rank === 0) console.log(JSON.stringify({ ranks: size, failures: count[0], details: failures }));
mpi.finalize();
