/**
 * Failpoints for fault-injection tests: with `EVA_TFJS_FAILPOINT=<name>@<n>` in the environment,
 * the process kills itself (SIGKILL: no cleanup, as a power cut or the OOM killer would) the
 * n-th time it passes the failpoint `name`. Without the variable a failpoint does nothing.
 *
 * Failpoints: `<file>-written` (e.g. `checkpoint.bin-written`, `log.jsonl-written`: an atomic
 * write's temporary is complete, not yet renamed), `checkpoint-published` (a checkpoint was
 * renamed into place; the log is not rewritten yet).
 */

const passes = new Map<string, number>();

/** Passes failpoint `name` (see the module's documentation). */
export function failpoint(name: string): void {
  const setting = process.env.EVA_TFJS_FAILPOINT;
  if (setting == null || setting === '') return;
  const count = (passes.get(name) ?? 0) + 1;
  passes.set(name, count);
  if (setting === `${name}@${count}`) process.kill(process.pid, 'SIGKILL');
}
