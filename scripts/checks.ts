/**
 * The small check runner the repository's end-to-end scripts share (consumer-test.ts,
 * run-examples.ts): named checks that record a pass or a failure without stopping the others, and
 * a closing `<name>: N passed, M failed` line (the plain summary CI reads) with a non-zero exit
 * on any failure or when nothing ran.
 */

/** Seconds since `since` (ms), for messages. */
export function elapsed(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/** `text` indented under a check's line. */
export function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => `       ${line}`)
    .join('\n');
}

/** The last `lines` lines of `text`. */
export function tail(text: string, lines = 40): string {
  const all = text.trimEnd().split('\n');
  return (all.length > lines ? ['[...]', ...all.slice(-lines)] : all).join('\n');
}

/** Throws `message` unless `condition` holds. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Counts passed and failed checks of one script. */
export class Checks {
  passed = 0;
  failed = 0;
  private readonly started = Date.now();

  constructor(private readonly name: string) {}

  /** Records one check; a thrown error fails it (and is printed) without stopping the others. */
  async check(name: string, body: () => void | Promise<void>): Promise<boolean> {
    const t0 = Date.now();
    try {
      await body();
      this.passed++;
      console.log(`  ok   ${name} (${elapsed(t0)})`);
      return true;
    } catch (e) {
      this.failed++;
      console.log(`  FAIL ${name} (${elapsed(t0)})`);
      console.log(indent(e instanceof Error ? e.message : String(e)));
      return false;
    }
  }

  /** Runs `main`, counting a throw as a failure, then {@link summarize}s. */
  async finish(main: () => Promise<void>): Promise<void> {
    try {
      await main();
    } catch (e) {
      this.failed++;
      console.log(
        `${this.name} aborted: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      );
    }
    this.summarize();
  }

  /** Prints the summary line; a failure or no check at all sets a non-zero exit code. */
  summarize(): void {
    console.log(
      `${this.name}: ${this.passed} passed, ${this.failed} failed (${elapsed(this.started)})`,
    );
    if (this.failed > 0 || this.passed === 0) process.exitCode = 1;
  }
}
