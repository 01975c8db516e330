/**
 * A `--distributed` command restarts itself with V8's single-threaded GC (rank-process.ts); the
 * restart itself is exercised by the CLI tests of distributed.test.ts, which run under mpirun.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RANK_NODE_FLAG, rankRestartArguments } from '../src/cli/rank-process.js';

test('rankRestartArguments: only --distributed commands restart, once, keeping node flags and arguments', () => {
  const node = '/usr/bin/node';
  const loader = ['--conditions=eva-tfjs-source', '--import', 'tsx'];
  const train = ['train', '--distributed', '--optimizer', 'eva'];
  assert.deepEqual(rankRestartArguments(loader, [node, 'main.ts', ...train]), [
    RANK_NODE_FLAG,
    ...loader,
    'main.ts',
    ...train,
  ]);
  assert.equal(
    rankRestartArguments(loader, [node, 'main.ts', 'train', '--optimizer', 'eva']),
    null,
  );
  assert.equal(
    rankRestartArguments([RANK_NODE_FLAG, ...loader], [node, 'main.ts', ...train]),
    null,
  );
  assert.equal(
    rankRestartArguments(['--no-single-threaded-gc'], [node, 'main.ts', ...train]),
    null,
  );
  // A node flag named like the option is not the option.
  assert.equal(rankRestartArguments([], [node, '--distributed']), null);
});
