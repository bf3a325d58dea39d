#!/usr/bin/env node
// CLI launcher. libtorch's CPU training steps run ~30 % faster with these glibc malloc tunables,
// which glibc reads only at process start: re-launch once with them unless the user set their own.
//
// Signals and exit codes (README, docs/reliability.md):
// - SIGINT exits 130, SIGTERM 143, SIGHUP 129 (128 + the signal's number; the job dies by the signal
//   itself, which a shell reports so), through the launcher too: it forwards the signal to its child
//   and exits with the child's code, or 128 + the number of the signal that ended the child;
// - a child killed by a signal makes the launcher exit 128 + that signal's number;
// - the child dies with the launcher: it holds an IPC channel to it and exits when that closes
//   (the launcher was killed, even with SIGKILL);
// - a verb that handles a signal itself (serve closes its server and exits 0) keeps doing so.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";

const TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295";
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"];
const codeOf = (signal) => 128 + (constants.signals[signal] ?? 0);

if (process.platform === "linux" && process.env.GLIBC_TUNABLES === undefined) {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: ["inherit", "inherit", "inherit", "ipc"],
      env: { ...process.env, GLIBC_TUNABLES: TUNABLES, BACKSPLIT_LAUNCHED: "1" },
    },
  );
  for (const signal of SIGNALS)
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  child.on("error", (error) => {
    console.error(`backsplit: cannot start node (${error.message})`);
    process.exit(3);
  });
  child.on("exit", (code, signal) => process.exit(code ?? codeOf(signal)));
} else {
  // Dies by the signal itself (its default action, re-raised): no exit handlers run while a worker
  // thread is inside libtorch, which process.exit() could turn into an abort.
  const dieBy = (signal) => {
    for (const s of SIGNALS) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    setTimeout(() => process.exit(codeOf(signal)), 2000).unref();
  };
  if (process.env.BACKSPLIT_LAUNCHED && process.channel) {
    // The launcher holds the other end: when it goes (killed, even by SIGKILL), so do we.
    process.channel.unref();
    process.on("disconnect", () => dieBy("SIGHUP"));
  }
  for (const signal of SIGNALS)
    process.on(signal, () => {
      // A verb listening for the signal itself (serve) finishes on its own.
      if (process.listenerCount(signal) > 1) return;
      process.stderr.write(`\nbacksplit: interrupted (${signal})\n`);
      dieBy(signal);
    });
  let cli;
  try {
    cli = await import("../dist/src/cli/main.js");
  } catch (error) {
    if (error?.code !== "ERR_MODULE_NOT_FOUND") throw error;
    const root = fileURLToPath(new URL("..", import.meta.url));
    console.error(`backsplit is not built yet: run \`npm run build\` (or scripts/setup.sh) in ${root}`);
    process.exit(3);
  }
  process.exitCode = await cli.main(process.argv.slice(2));
}
