// `backsplit train … --nproc N`: N local processes with torchrun's variables (RANK, LOCAL_RANK,
// WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), so that a run launched by us, by torchrun or
// by srun goes through the same code. When one rank fails, the others are stopped and its code returned.
import { spawn } from "node:child_process";
import net from "node:net";
import { constants } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");

/** A free TCP port on the loopback interface (for the TCPStore of a local group). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The command line without `--nproc N` / `--nproc=N`. */
export function withoutNproc(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--nproc") {
      i++;
      continue;
    }
    if (argv[i].startsWith("--nproc=")) continue;
    out.push(argv[i]);
  }
  return out;
}

export interface LocalLaunch {
  nproc: number;
  /** The arguments every rank runs: backsplit's (the verb first), or a script's when `script` is set. */
  argv: string[];
  /** A Node script to run instead of the backsplit CLI. */
  script?: string;
  /** Rank 0's standard output, line by line (default: inherited like every other stream). */
  onMainLine?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Threads per rank (default: the cores shared out, at least 1). */
  threadsPerRank?: number;
}

/** Runs the ranks to the end; resolves to 0, or the first failing rank's exit code (128 + signal). */
export async function launchLocal(l: LocalLaunch): Promise<number> {
  const port = await freePort();
  const children = Array.from({ length: l.nproc }, (_, rank) =>
    spawn(process.execPath, [l.script ?? CLI, ...l.argv], {
      stdio: rank === 0 && l.onMainLine ? ["inherit", "pipe", "inherit"] : "inherit",
      env: {
        ...process.env,
        ...l.env,
        WORLD_SIZE: String(l.nproc),
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        LOCAL_WORLD_SIZE: String(l.nproc),
        MASTER_ADDR: "127.0.0.1",
        MASTER_PORT: String(port),
        ...(l.threadsPerRank ? { BACKSPLIT_THREADS: String(l.threadsPerRank) } : {}),
      },
    }),
  );
  if (l.onMainLine) {
    let pending = "";
    children[0].stdout?.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) if (line) l.onMainLine!(line);
    });
  }
  const stopAll = (signal: NodeJS.Signals) => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  };
  const forward = (signal: NodeJS.Signals) => () => stopAll(signal);
  const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as NodeJS.Signals[]).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  try {
    const codes = await Promise.all(
      children.map(
        (child) =>
          new Promise<number>((resolve) => {
            child.on("error", () => resolve(3));
            child.on("exit", (code, signal) => {
              const result = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
              // A failed rank takes the others down now rather than at their collective's timeout.
              if (result !== 0) stopAll("SIGTERM");
              resolve(result);
            });
          }),
      ),
    );
    // The first rank that failed for its own reason, not one stopped by us (143).
    return codes.find((c) => c !== 0 && c !== 143) ?? codes.find((c) => c !== 0) ?? 0;
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
  }
}
