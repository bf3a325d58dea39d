// A lock file holding the writer's PID: a second writer of the same thing is refused with a message
// naming the holder; a lock left by a process that no longer runs (killed) is taken over.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export class LockedError extends Error {}

interface LockContent {
  pid: number;
  host: string;
  since: string;
  what: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function holder(file: string): LockContent | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as LockContent;
  } catch {
    return null; // being written, or not ours: treated as held
  }
}

/** Takes the lock `file` (created exclusively) for `what`; returns its release function. */
export function acquireLock(file: string, what: string): () => void {
  mkdirSync(path.dirname(file), { recursive: true });
  const content: LockContent = { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), what };
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, "wx");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const h = holder(file);
      const stale = h !== null && h.host === os.hostname() && !alive(h.pid);
      if (stale && attempt === 0) {
        rmSync(file, { force: true });
        continue;
      }
      throw new LockedError(
        h
          ? `${what} is being written by process ${h.pid} on ${h.host} since ${h.since} (lock ${file}); wait for it to finish${h.host === os.hostname() ? "" : ", or remove the lock if that process is gone"}`
          : `${what} is locked (${file} exists); remove it if no other backsplit process is writing`,
      );
    }
    try {
      writeSync(fd, `${JSON.stringify(content)}\n`);
    } finally {
      closeSync(fd);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (holder(file)?.pid === process.pid) rmSync(file, { force: true });
    };
  }
  throw new LockedError(`${what}: could not take the lock ${file}`);
}

/** Runs `fn` holding the lock. */
export async function withLock<T>(file: string, what: string, fn: () => Promise<T>): Promise<T> {
  const release = acquireLock(file, what);
  try {
    return await fn();
  } finally {
    release();
  }
}

/** Throws LockedError if a live process holds `file`. */
export function assertUnlocked(file: string, what: string): void {
  const h = holder(file);
  if (h && (h.host !== os.hostname() || alive(h.pid)))
    throw new LockedError(`${what} is being written by process ${h.pid} on ${h.host} since ${h.since} (lock ${file})`);
}
