/**
 * One writer per output directory: a run holds `<dir>/.lock` (created exclusively, holding its
 * pid, host and start time) until it ends. A second run on the same directory is refused with
 * who holds it; a lock left by a process that no longer exists (on this host) is reported and
 * taken over.
 */
import {
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

interface LockContent {
  pid: number;
  host: string;
  started: string;
}

/** A held lock; {@link release} it when the run ends (also done on process exit). */
export interface OutputLock {
  readonly path: string;
  /** A message when a stale lock of a dead process was taken over, else null. */
  readonly takenOver: string | null;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The holder of `path` (a lock file), as far as it can be read. */
function holderOf(path: string): Partial<LockContent> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockContent;
  } catch {
    // An empty or partial lock file: written without hard links by a run that died while
    // creating it.
    return {};
  }
}

/**
 * Creates the lock file `path` holding `content`, or throws EEXIST. The content is written to a
 * temporary file first and hard-linked into place, so a lock is never seen empty: a live run
 * stopped right after taking its lock must not look like a dead one. Where hard links are not
 * supported, the file is created exclusively and then written.
 */
function createLockFile(path: string, content: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, content);
  try {
    linkSync(temp, path);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw e;
  } finally {
    rmSync(temp, { force: true });
  }
  const fd = openSync(path, 'wx');
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

/** Whether `holder` is a live run (on another host: assumed live). */
function holderIsLive(holder: Partial<LockContent>): boolean {
  const sameHost = holder.host == null || holder.host === hostname();
  return holder.pid != null && (!sameHost || alive(holder.pid));
}

function inUse(dir: string, holder: Partial<LockContent>): string {
  return (
    `${dir} is in use by another run (pid ${holder.pid} on ${holder.host}, started ` +
    `${holder.started}); wait for it, or choose another --out`
  );
}

/**
 * Throws, without creating or changing anything, when another live run holds the lock of `dir`
 * (an early check before the work that precedes {@link lockOutputDirectory}; that still decides).
 */
export function checkOutputDirectoryFree(dir: string): void {
  const path = join(dir, '.lock');
  if (!existsSync(path)) return;
  const holder = holderOf(path);
  if (holder.pid !== process.pid && holderIsLive(holder)) throw new Error(inUse(dir, holder));
}

/** Takes the lock of `dir` (creating the directory) or throws naming the run that holds it. */
export function lockOutputDirectory(dir: string): OutputLock {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, '.lock');
  const content: LockContent = {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
  };
  let takenOver: string | null = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      createLockFile(path, JSON.stringify(content));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw new Error(`Could not lock ${dir} (${path}): ${(e as Error).message}`, { cause: e });
      }
      const holder = holderOf(path);
      if (holderIsLive(holder)) throw new Error(inUse(dir, holder), { cause: e });
      takenOver =
        `took over a stale lock in ${dir}` +
        (holder.pid != null ? ` (pid ${holder.pid} is no longer running)` : ' (unreadable)');
      rmSync(path, { force: true });
    }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    try {
      const holder = JSON.parse(readFileSync(path, 'utf8')) as LockContent;
      if (holder.pid === process.pid) rmSync(path, { force: true });
    } catch {
      // Already gone.
    }
  };
  process.on('exit', release);
  return { path, takenOver, release };
}
