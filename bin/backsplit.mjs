#!/usr/bin/env node
// CLI launcher. libtorch's CPU training steps run ~30 % faster with these glibc malloc tunables,
// which glibc reads only at process start: re-launch once with them unless the user set their own.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295";

if (process.platform === "linux" && process.env.GLIBC_TUNABLES === undefined) {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: "inherit",
      env: { ...process.env, GLIBC_TUNABLES: TUNABLES },
    },
  );
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
} else {
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
