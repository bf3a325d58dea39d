// Interrupts through the launcher: SIGINT exits 130 and SIGTERM 143 (the README's table), the
// child's code passes through, serve exits 0 after closing, and a SIGKILL'ed launcher takes its
// worker child with it (no orphan left running).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");
// Without GLIBC_TUNABLES the launcher re-executes itself, as for a user.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "GLIBC_TUNABLES"));

function start(args: string[]): { child: ChildProcess; firstLine: Promise<string>; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) resolve(out.split("\n")[0]);
    });
    child.on("exit", () => reject(new Error(`exited before printing a line: ${out}`)));
  });
  firstLine.catch(() => {});
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, firstLine, exit };
}

const LONG_SMOKE = ["smoke", "--steps", "100000", "--size", "16", "--threads", "1", "--device", "cpu", "--json"];

for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
] as const) {
  test(`${signal} to the launcher of a running job exits ${code}`, async () => {
    const { child, firstLine, exit } = start(LONG_SMOKE);
    await firstLine;
    child.kill(signal);
    assert.equal(await exit, code);
  });
}

function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces, so split after ')'.
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
};

test(
  "SIGKILL of the launcher does not leave its worker child running",
  { skip: process.platform !== "linux" },
  async () => {
    const { child, firstLine, exit } = start(LONG_SMOKE);
    await firstLine;
    const workers = childrenOf(child.pid!);
    assert.equal(workers.length, 1, "the launcher runs one child");
    child.kill("SIGKILL");
    await exit;
    const deadline = Date.now() + 10_000;
    while (alive(workers[0]) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const orphan = alive(workers[0]);
    if (orphan) process.kill(workers[0], "SIGKILL");
    assert.ok(!orphan, "the child exited with its launcher");
  },
);

test("serve closes and exits 0 on SIGINT (documented)", async () => {
  const root = path.resolve(path.dirname(bin), "..", "dist", "test-serve-signal");
  const { mkdirSync, writeFileSync, rmSync } = await import("node:fs");
  mkdirSync(root, { recursive: true });
  writeFileSync(
    path.join(root, "dataset.json"),
    JSON.stringify({ channel_names: { "0": "T1" }, labels: { background: 0, lesion: 1 }, file_ending: ".nii.gz" }),
  );
  try {
    const { child, firstLine, exit } = start(["serve", root, "--port", "0", "--json"]);
    assert.match(await firstLine, /"url":"http:\/\/127\.0\.0\.1:\d+\//);
    child.kill("SIGINT");
    assert.equal(await exit, 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
