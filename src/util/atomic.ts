// Atomic file writes: write a temporary file beside the target, flush it to disk (fsync), rename it
// over the target, then flush the folder, so a crash, a kill or a power cut never leaves a
// half-written file under the final name, and a rename that returned has reached the disk.
// Temporary names are `.{name}.tmp-{pid}-{hex}[ending]`; removeStaleTemps() deletes those of
// processes that no longer run (a killed job's leftovers).
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import path from "node:path";

const TEMP = /^\..+\.tmp-(\d+)-[0-9a-f]{8}(?:\.[A-Za-z0-9.]+)?$/;

/** A temporary name beside `file`; `ending` keeps a file ending for writers that choose the format by it. */
export function tempName(file: string, ending = ""): string {
  return path.join(
    path.dirname(file),
    `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}${ending}`,
  );
}

/** Flushes a file's data (or a folder's entries) to disk. Folders that cannot be opened for it are skipped. */
export function fsyncPath(file: string, folder = false): void {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (error) {
    if (folder) return; // some platforms cannot open folders; the rename is still atomic
    throw error;
  }
  try {
    fsyncSync(fd);
  } catch (error) {
    // Folders on some file systems refuse fsync (EINVAL); the data itself was flushed.
    if (!folder) throw error;
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, data: string | NodeJS.ArrayBufferView | readonly NodeJS.ArrayBufferView[]): void {
  if (typeof data === "string") {
    writeFileSync(fd, data);
    return;
  }
  const parts = Array.isArray(data) ? data : [data as NodeJS.ArrayBufferView];
  for (const d of parts) {
    const bytes = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  }
}

/** Renames `tmp` over `file` and flushes the folder; removes `tmp` if anything fails. */
export function commitSync(tmp: string, file: string): void {
  try {
    fsyncPath(tmp);
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  fsyncPath(path.dirname(file), true);
}

export function writeFileAtomicSync(
  file: string,
  data: string | NodeJS.ArrayBufferView | readonly NodeJS.ArrayBufferView[],
): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempName(file);
  try {
    const fd = openSync(tmp, "w");
    try {
      writeAll(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  fsyncPath(path.dirname(file), true);
}

export async function writeFileAtomic(file: string, data: string | NodeJS.ArrayBufferView): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempName(file);
  try {
    const handle = await open(tmp, "w");
    try {
      await handle.writeFile(
        typeof data === "string" ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      );
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  fsyncPath(path.dirname(file), true);
}

function running(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Deletes temporary files left in `dir` by writers that no longer run (a killed job). Files of
 * running processes (this one included) are kept. Returns the names removed.
 */
export function removeStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m || running(Number(m[1]))) continue;
    rmSync(path.join(dir, name), { force: true, recursive: true });
    removed.push(name);
  }
  return removed;
}
