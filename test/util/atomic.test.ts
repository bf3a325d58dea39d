// Atomic writes reach the disk before the rename (fsync of the file, then of its folder), and a
// killed writer's temporary files are removed by the next run.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs, { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { removeStaleTemps, tempName, writeFileAtomic, writeFileAtomicSync } from "../../src/util/atomic.js";

/** Records which paths were fsync'ed (through the file descriptors opened for them). */
function spyFsync(run: () => void | Promise<void>): Promise<string[]> {
  const opened = new Map<number, string>();
  const synced: string[] = [];
  const { openSync, fsyncSync } = fs;
  fs.openSync = ((file: fs.PathLike, ...rest: unknown[]) => {
    const fd = (openSync as (...a: unknown[]) => number)(file, ...rest);
    opened.set(fd, String(file));
    return fd;
  }) as typeof fs.openSync;
  fs.fsyncSync = (fd: number) => {
    synced.push(opened.get(fd) ?? `fd ${fd}`);
    fsyncSync(fd);
  };
  syncBuiltinESMExports();
  const restore = () => {
    fs.openSync = openSync;
    fs.fsyncSync = fsyncSync;
    syncBuiltinESMExports();
  };
  return Promise.resolve()
    .then(run)
    .then(
      () => {
        restore();
        return synced;
      },
      (error) => {
        restore();
        throw error;
      },
    );
}

test("writeFileAtomicSync flushes the temporary file and the folder, and leaves no temporary file", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-atomic-"));
  const file = path.join(dir, "checkpoint.bin");
  const synced = await spyFsync(() => writeFileAtomicSync(file, [new Uint8Array([1, 2]), new Float32Array([3])]));
  assert.deepEqual([...readFileSync(file)], [1, 2, 0, 0, 64, 64]);
  assert.ok(
    synced.some((p) => path.basename(p).startsWith(".checkpoint.bin.tmp-")),
    `the data was fsync'ed before the rename: ${synced}`,
  );
  assert.ok(synced.includes(dir), `the folder was fsync'ed after the rename: ${synced}`);
  assert.deepEqual(readdirSync(dir), ["checkpoint.bin"]);
});

test("writeFileAtomic (async) flushes the file and the folder too", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-atomic-"));
  const file = path.join(dir, "dataset.json");
  const synced = await spyFsync(() => writeFileAtomic(file, "{}\n"));
  assert.equal(readFileSync(file, "utf8"), "{}\n");
  assert.ok(synced.includes(dir), `the folder was fsync'ed: ${synced}`);
  assert.deepEqual(readdirSync(dir), ["dataset.json"]);
});

test("removeStaleTemps deletes the temporary files of dead writers only", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-atomic-"));
  // A process that has exited: its pid is free (reuse within this test is practically impossible).
  const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
  const deadPid = Number(dead.stdout.trim());
  const stale = `.a.data.f32.tmp-${deadPid}-0123abcd`;
  const staleItk = `.b.nrrd.tmp-${deadPid}-89abcdef.nrrd`;
  writeFileSync(path.join(dir, stale), "x");
  writeFileSync(path.join(dir, staleItk), "x");
  const mine = path.basename(tempName(path.join(dir, "c.json")));
  writeFileSync(path.join(dir, mine), "x");
  writeFileSync(path.join(dir, "a.json"), "{}");
  assert.deepEqual(removeStaleTemps(dir).sort(), [stale, staleItk].sort());
  assert.ok(existsSync(path.join(dir, mine)), "a running writer's file is kept");
  assert.ok(existsSync(path.join(dir, "a.json")));
});
