/**
 * The entry of {@link InverseRootWorker}'s thread (Node `worker_threads`): waits on the shared
 * status word for a request, computes every inverse root of the shared input in float64
 * ({@link inverseRootFloat64}) into the shared output, reports done (or failed, with the message
 * on its port) and waits again. See inverse-root-worker.ts for the protocol.
 */
import { workerData } from 'node:worker_threads';
import { inverseRootFloat64, symmetricUpper } from './inverse-root-float64.js';
import { RootStatus, type RootThreadData } from './inverse-root-protocol.js';

const { status, ridge, input, output, sizes, exponents, port } = workerData as RootThreadData;
Atomics.store(status, 1, 1); // started

for (;;) {
  let now = Atomics.load(status, 0);
  while (now !== RootStatus.Requested && now !== RootStatus.Stop) {
    Atomics.wait(status, 0, now);
    now = Atomics.load(status, 0);
  }
  if (now === RootStatus.Stop) break;
  try {
    let offset = 0;
    sizes.forEach((n, i) => {
      const root = inverseRootFloat64(
        symmetricUpper(input, offset, n),
        n,
        exponents[i]!,
        ridge[0]!,
      );
      output.set(root, offset);
      offset += n * n;
    });
    Atomics.store(status, 0, RootStatus.Done);
  } catch (error) {
    port.postMessage(error instanceof Error ? error.message : String(error));
    Atomics.store(status, 0, RootStatus.Failed);
  }
  Atomics.notify(status, 0);
}
port.close();
