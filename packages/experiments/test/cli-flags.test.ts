/**
 * The command line's optimizer flags, in process: derived from the registry (every option of
 * every registered optimizer has one), parsed by kind (`--no-nesterov`, `--kl-clip none`),
 * handed to the optimizers that take them, swept by flag name; `--plugin` scanning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { Command } from 'commander';
import {
  createOptimizerByName,
  optimizerEntry,
  optimizerNames,
  positive,
  registerOptimizer,
  type OptionSpec,
} from 'eva-tfjs';
import { CliContext } from '../src/cli/context.js';
import {
  flagValues,
  optimizerFlagsOf,
  optimizerOptions,
  type FlagValues,
  type OptimizerFlag,
} from '../src/cli/optimizer-flags.js';
import { pluginArguments, pluginSpecifier } from '../src/cli/plugins.js';
import { buildProgram } from '../src/cli/program.js';
import { sweepParameters } from '../src/cli/commands/sweep.js';

const TRAINING = ['train', 'compare', 'sweep'];

function commandOf(program: Command, name: string): Command {
  const command = program.commands.find((c) => c.name() === name);
  assert.ok(command, name);
  return command;
}

/** Parses `args` (`train ...`) without running the command: its flags and optimizer flags. */
async function parse(
  args: string[],
): Promise<{ flags: Record<string, unknown>; values: FlagValues; command: Command }> {
  const quiet = { writeErr: () => {}, outputError: () => {} };
  const program = buildProgram(new CliContext(args)).exitOverride().configureOutput(quiet);
  const command = commandOf(program, args[0]!).exitOverride().configureOutput(quiet);
  let parsed: { flags: Record<string, unknown>; values: FlagValues } | undefined;
  command.action((flags: Record<string, unknown>, cmd: Command) => {
    parsed = { flags, values: flagValues(cmd) };
  });
  await program.parseAsync(args, { from: 'user' });
  assert.ok(parsed);
  return { ...parsed, command };
}

/** A command-line value that `spec` accepts (its default where it has one). */
function sampleValue(spec: OptionSpec): string {
  switch (spec.kind) {
    case 'number':
      return String(spec.default);
    case 'schedule':
      return spec.default == null ? 'none' : String(spec.default);
    case 'choice':
      return spec.choices.at(-1)!;
    case 'layers':
      return 'dense_a,dense_b';
    case 'boolean':
      return '';
  }
}

function tinyModel(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 3, activation: 'relu' }),
      tf.layers.dense({ units: 2 }),
    ],
  });
  model.build([null, 4]);
  return model;
}

test('every option of every registered optimizer has a flag on train, compare and sweep', async () => {
  const program = buildProgram(new CliContext([]));
  for (const name of TRAINING) {
    const command = commandOf(program, name);
    const flags = optimizerFlagsOf(command);
    const help = command.helpInformation();
    for (const optimizer of optimizerNames()) {
      for (const [option, spec] of Object.entries(optimizerEntry(optimizer).options)) {
        const flag = flags.find((f) => f.option === option && f.specs.has(optimizer));
        assert.ok(flag, `${name}: no flag for option '${option}' of ${optimizer}`);
        assert.ok(command.options.some((o) => o.long === flag.flag));
        assert.ok(help.includes(flag.flag), `${name} --help lists ${flag.flag}`);
        if (option.length <= 2) assert.equal(flag.flag, `--${optimizer}-${option}`);
        // The flag reaches this optimizer as the option, parsed by the option's kind.
        const value = sampleValue(spec);
        const args = spec.kind === 'boolean' ? [flag.flag] : [flag.flag, value];
        const { values } = await parse(['train', '--optimizer', optimizer, ...args]);
        const options = optimizerOptions([optimizer], { lr: 0.1, flags: values }).get(optimizer)!;
        const expected =
          spec.kind === 'boolean'
            ? true
            : spec.kind === 'layers'
              ? value.split(',')
              : spec.kind === 'choice'
                ? value
                : value === 'none'
                  ? null
                  : Number(value);
        assert.deepEqual(options[option], expected, `${flag.flag} ${value} for ${optimizer}`);
      }
    }
  }
});

test('flag names and help: kebab case, M-FAC window, which optimizers take a flag', () => {
  const program = buildProgram(new CliContext([]));
  const train = commandOf(program, 'train');
  const longs = train.options.map((o) => o.long);
  for (const flag of [
    '--damping',
    '--kl-clip',
    '--inv-update-freq',
    '--stats-batch-size',
    '--block-size',
    '--linalg',
    '--nesterov',
    '--no-nesterov',
    '--mfac-m',
    '--weight-decay',
    '--momentum',
    '--lr',
    '--lr-for',
    '--plugin',
  ]) {
    assert.ok(longs.includes(flag), flag);
  }
  assert.ok(!longs.includes('--learning-rate') && !longs.includes('--m'));
  const help = train.helpInformation();
  assert.match(help, /--damping <x>\s+damping gamma \(eva, evaf, evas, kfac, foof\)/);
  assert.match(help, /--kl-clip <x\|none>/);
  assert.match(help, /--linalg <choice>[\s\S]*?choices:\s+"host",\s+"newton"/);
  assert.match(help, /--weight-decay <x>[\s\S]*?\(default: 0\.0005\)/);
  assert.match(help, /--plugin <module>\s+module to import first/);
});

test('--no-nesterov and --nesterov reach the optimizer; unset leaves its own default', async () => {
  const off = await parse(['train', '--optimizer', 'evas', '--no-nesterov']);
  const evas = optimizerOptions(['evas'], { lr: 0.1, flags: off.values }).get('evas')!;
  assert.equal(evas.nesterov, false);
  const model = tinyModel();
  const optimizer = createOptimizerByName('evas', model, evas);
  assert.equal((optimizer.getConfig().baseConfig as { nesterov: boolean }).nesterov, false);
  optimizer.dispose();
  const on = await parse(['train', '--optimizer', 'eva', '--nesterov']);
  assert.equal(optimizerOptions(['eva'], { lr: 0.1, flags: on.values }).get('eva')!.nesterov, true);
  const unset = await parse(['train', '--optimizer', 'eva']);
  const options = optimizerOptions(['eva'], { lr: 0.1, flags: unset.values }).get('eva')!;
  assert.deepEqual(options, { learningRate: 0.1, weightDecay: 5e-4 });
  model.dispose();
});

test('--kl-clip none reaches the optimizer as null', async () => {
  const { values } = await parse(['train', '--optimizer', 'eva', '--kl-clip', 'none']);
  const options = optimizerOptions(['eva'], { lr: 0.1, flags: values }).get('eva')!;
  assert.equal(options.klClip, null);
  const model = tinyModel();
  const optimizer = createOptimizerByName('eva', model, options);
  assert.equal(optimizer.getConfig().klClip, null);
  optimizer.dispose();
  model.dispose();
  await assert.rejects(
    parse(['train', '--kl-clip', 'x']),
    /--kl-clip must be a number >= 0 or 'none', got 'x'/,
  );
  await assert.rejects(
    parse(['train', '--damping', '-1']),
    /--damping must be a number > 0, got '-1'/,
  );
  await assert.rejects(
    parse(['train', '--fac-update-freq', '0']),
    /--fac-update-freq must be a positive integer, got '0'/,
  );
});

test('a flag goes to the chosen optimizers that take it; one none takes is an error', async () => {
  const { values } = await parse(['compare', '--optimizers', 'sgd,eva,kfac', '--damping', '0.1']);
  const options = optimizerOptions(['sgd', 'eva', 'kfac'], { lr: 0.1, flags: values });
  assert.equal(options.get('sgd')!.damping, undefined);
  assert.equal(options.get('eva')!.damping, 0.1);
  assert.equal(options.get('kfac')!.damping, 0.1);
  const unused = await parse(['compare', '--optimizers', 'sgd', '--block-size', '4']);
  assert.throws(
    () => optimizerOptions(['sgd'], { lr: 0.1, flags: unused.values }),
    /--block-size is not an option of sgd \(it is one of shampoo\)/,
  );
  // Constraints that differ between optimizers are checked per optimizer.
  const beta2 = await parse(['compare', '--beta2', '1']);
  assert.equal(optimizerOptions(['evas'], { lr: 0.1, flags: beta2.values }).get('evas')!.beta2, 1);
  assert.throws(
    () => optimizerOptions(['adam', 'evas'], { lr: 0.1, flags: beta2.values }),
    /--beta2 must be a number in \[0, 1\) for adam, got 1/,
  );
  assert.throws(
    () => optimizerOptions(['sgd'], { lr: 0.1, lrFor: { adam: 0.01 }, flags: new Map() }),
    /--lr-for names 'adam', which is not among sgd/,
  );
});

test('sweepable settings: lr, batch-size and the numeric, boolean and choice options, parsed like the flag', async () => {
  const { flags, values, command } = await parse(['sweep', '--param', 'kl-clip', '--values', '1']);
  const parameters = sweepParameters('eva', optimizerFlagsOf(command));
  const names = parameters.map((p) => p.name);
  for (const name of ['lr', 'batch-size', 'momentum', 'weight-decay', 'damping', 'kl-clip']) {
    assert.ok(names.includes(name), name);
  }
  const nesterov = parameters.find((p) => p.name === 'nesterov')!;
  assert.equal(nesterov.parse('true'), true);
  assert.equal(nesterov.parse('false'), false);
  assert.throws(() => nesterov.parse('yes'), /--nesterov values must be true or false, got 'yes'/);
  assert.ok(names.includes('on-non-finite'));
  assert.ok(
    sweepParameters('kfac', optimizerFlagsOf(command)).some((p) => p.name === 'inverse-worker'),
  );
  assert.ok(sweepParameters('mfac', optimizerFlagsOf(command)).some((p) => p.name === 'mfac-m'));
  const klClip = parameters.find((p) => p.name === 'kl-clip')!;
  assert.throws(() => klClip.parse('x'), /--kl-clip must be a number >= 0 or 'none'/);
  const run = { flags: flags as never, values };
  for (const [text, expected] of [
    ['0.001', 0.001],
    ['none', null],
  ] as const) {
    const varied = klClip.vary(run, klClip.parse(text));
    const options = optimizerOptions(['eva'], { lr: 0.1, flags: varied.values }).get('eva')!;
    assert.equal(options.klClip, expected);
  }
  const lr = parameters.find((p) => p.name === 'lr')!;
  assert.equal(lr.vary(run, lr.parse('0.5')).flags.lr, 0.5);
});

test('an optimizer registered at run time gets flags; short or taken names are prefixed', async () => {
  registerOptimizer({
    name: 'flagtoy',
    description: 'a first-order toy (plain SGD)',
    options: {
      seed: { kind: 'number', default: 1, constraint: positive, description: 'toy seed' },
      q: { kind: 'number', default: 2, constraint: positive, description: 'toy q' },
      momentum: { kind: 'boolean', default: false, description: 'toy momentum switch' },
    },
    secondOrder: false,
    testing: { learningRate: 0.1 },
    build: (_model, options) => tf.train.sgd(options.learningRate),
  });
  const program = buildProgram(new CliContext([]));
  const flags = optimizerFlagsOf(commandOf(program, 'train'));
  const flagOf = (option: string): OptimizerFlag | undefined =>
    flags.find((f) => f.option === option && f.specs.has('flagtoy'));
  assert.equal(flagOf('seed')?.flag, '--flagtoy-seed', '--seed is a flag of the command');
  assert.equal(flagOf('q')?.flag, '--flagtoy-q', 'two characters or fewer');
  assert.equal(flagOf('momentum')?.flag, '--flagtoy-momentum', '--momentum takes a number');
  const { values } = await parse([
    'train',
    '--optimizer',
    'flagtoy',
    '--flagtoy-q',
    '3',
    '--flagtoy-momentum',
  ]);
  // The command line's weight decay is a default: not an error for an optimizer without it.
  assert.deepEqual(optimizerOptions(['flagtoy'], { lr: 0.1, flags: values }).get('flagtoy'), {
    learningRate: 0.1,
    q: 3,
    momentum: true,
  });
});

test('--plugin: scanned before parsing; paths relative to the current directory', () => {
  assert.deepEqual(
    pluginArguments([
      'train',
      '--plugin',
      'a.mjs',
      '--epochs',
      '1',
      '--plugin=./b.js',
      '--',
      '--plugin',
      'c',
    ]),
    ['a.mjs', './b.js'],
  );
  assert.throws(() => pluginArguments(['train', '--plugin']), /--plugin needs a module/);
  assert.equal(pluginSpecifier('./p.mjs', '/tmp/x'), 'file:///tmp/x/p.mjs');
  assert.equal(pluginSpecifier('/abs/p.mjs', '/tmp/x'), 'file:///abs/p.mjs');
  assert.equal(pluginSpecifier('some-package', '/tmp/x'), 'some-package');
});
