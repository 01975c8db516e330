/**
 * The entry of {@link MatrixFunctionWorker}'s thread (Node `worker_threads`): waits on the shared
 * status word for a request, computes each matrix's function in float64
 * ({@link inverseRootFloat64}, {@link dampedInverseFloat64}) into the shared output, reports done
 * (or failed, with the message on its port) and waits again. See matrix-worker.ts.
 */
import { workerData } from 'node:worker_threads';
import { dampedInverseFloat64 } from './damped-inverse-float64.js';
import { inverseRootFloat64, symmetricUpper } from './inverse-root-float64.js';
import {
  MatrixWorkerStart as Start,
  MatrixWorkerStatus as Status,
  type MatrixThreadData,
} from './matrix-worker-protocol.js';

const { status, parameters, input, output, sizes, operations, port } =
  workerData as MatrixThreadData;
Atomics.store(status, 1, Start.Running);

for (;;) {
  let now = Atomics.load(status, 0);
  while (now !== Status.Requested && now !== Status.Stop) {
    Atomics.wait(status, 0, now);
    now = Atomics.load(status, 0);
  }
  if (now === Status.Stop) break;
  try {
    let offset = 0;
    sizes.forEach((n, i) => {
      const operation = operations[i]!;
      const parameter = parameters[i]!;
      const result =
        operation.kind === 'inverseRoot'
          ? inverseRootFloat64(symmetricUpper(input, offset, n), n, operation.p, parameter)
          : dampedInverseFloat64(input, offset, n, parameter);
      output.set(result, offset);
      offset += n * n;
      Atomics.add(status, 2, 1); // heartbeat
    });
    Atomics.store(status, 0, Status.Done);
  } catch (error) {
    port.postMessage(error instanceof Error ? error.message : String(error));
    Atomics.store(status, 0, Status.Failed);
  }
  Atomics.notify(status, 0);
}
port.close();
