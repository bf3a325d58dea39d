// A long-lived Python process answering JSON-line requests (the PyTorch side of a benchmark).
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const PY_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "bench", "py");

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The first of $BACKSPLIT_BENCH_PYTHON, python3, /usr/bin/python3 that imports every module named. */
export function pickPython(modules: string[]): string {
  const candidates = [process.env.BACKSPLIT_BENCH_PYTHON, "python3", "/usr/bin/python3"].filter(Boolean) as string[];
  const found = candidates.find(
    (p) => spawnSync(p, ["-c", `import ${modules.join(", ")}`], { stdio: "ignore" }).status === 0,
  );
  if (!found) throw new Error(`no python3 with ${modules.join(", ")} found (set BACKSPLIT_BENCH_PYTHON)`);
  return found;
}

export class PythonTwin {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;

  /** modules: what the script imports, to pick a python3 that has them (e.g. "torch"). */
  constructor(script: string, env: NodeJS.ProcessEnv, modules: string[]) {
    const python = pickPython(modules);
    this.#child = spawn(python, [path.join(PY_DIR, script)], { env, stdio: ["pipe", "pipe", "pipe"] });
    this.#child.stderr.on("data", (d) => process.stderr.write(d));
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async ask(request: unknown): Promise<unknown> {
    this.#child.stdin.write(`${JSON.stringify(request)}\n`);
    const next = await this.#lines.next();
    if (next.done) throw new Error("the Python twin exited (is torch installed for it? set BACKSPLIT_BENCH_PYTHON)");
    return JSON.parse(next.value);
  }

  close(): void {
    this.#child.stdin.end();
  }
}
