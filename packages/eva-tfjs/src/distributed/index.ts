/**
 * eva-tfjs/distributed: data-parallel training over Open MPI (Node only; needs the
 * `@eva-tfjs/mpi` addon at run time).
 * @packageDocumentation
 */
export { DataParallel, allreduceMean } from './data-parallel.js';
export {
  LocalCommunicator,
  MpiCommunicator,
  loadMpiAddon,
  MPI_SETUP_HINT,
  type Communicator,
  type MpiOptions,
} from './communicator.js';
