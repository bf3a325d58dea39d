// Runs reference computations in Python with PyTorch/NumPy/SciPy (Debian's python3-torch etc.).
import { execFileSync, spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const PY_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "test", "py");

let cached: string | null = null;

/** A python3 that can import torch: $BACKSPLIT_TEST_PYTHON, python3, or Debian's /usr/bin/python3. */
export function pythonWithTorch(): string {
  if (cached) return cached;
  const candidates = [process.env.BACKSPLIT_TEST_PYTHON, "python3", "/usr/bin/python3"].filter(Boolean) as string[];
  for (const candidate of candidates) {
    const r = spawnSync(candidate, ["-c", "import torch, numpy"], { stdio: "ignore" });
    if (r.status === 0) {
      cached = candidate;
      return candidate;
    }
  }
  throw new Error(
    "reference tests need a python3 with torch and numpy (Debian: apt-get install python3-torch python3-numpy python3-scipy python3-nibabel)",
  );
}

const found = new Map<string, string | null>();

/**
 * A python3 that can run `import <modules>` ($BACKSPLIT_TEST_PYTHON, python3, or Debian's /usr/bin/python3),
 * or null: for tests that skip, with a reason, when their reference is missing.
 */
export function pythonWith(modules: string): string | null {
  if (found.has(modules)) return found.get(modules)!;
  const candidates = [process.env.BACKSPLIT_TEST_PYTHON, "python3", "/usr/bin/python3"].filter(Boolean) as string[];
  const hit = candidates.find((c) => spawnSync(c, ["-c", `import ${modules}`], { stdio: "ignore" }).status === 0);
  found.set(modules, hit ?? null);
  return hit ?? null;
}

/** Runs test/py/<script> with the given python, a JSON request on stdin, and parses its JSON answer. */
export function runPythonWith<T>(python: string, script: string, request: unknown, extraArgs: string[] = []): T {
  const out = execFileSync(python, [path.join(PY_DIR, script), ...extraArgs], {
    input: JSON.stringify(request),
    encoding: "utf8",
    maxBuffer: 1 << 30,
    env: { ...process.env, OMP_NUM_THREADS: "1" },
  });
  return JSON.parse(out) as T;
}

/** Runs test/py/<script> with a JSON request on stdin and parses its JSON answer. */
export function runPython<T>(script: string, request: unknown, extraArgs: string[] = []): T {
  const out = execFileSync(pythonWithTorch(), [path.join(PY_DIR, script), ...extraArgs], {
    input: JSON.stringify(request),
    encoding: "utf8",
    maxBuffer: 1 << 30,
    env: { ...process.env, OMP_NUM_THREADS: "1" },
  });
  return JSON.parse(out) as T;
}

/** ../shared/data beside the checkout (BACKSPLIT_SHARED_DATA overrides). */
export const SHARED_DATA =
  process.env.BACKSPLIT_SHARED_DATA ?? path.resolve(PY_DIR, "..", "..", "..", "shared", "data");
