// The stage order of src/: a folder may import from its own stage and from earlier ones, never from a
// later one (io → grid → dataset → plan → preprocess → … → cli and web on top). Reads the sources,
// so it needs no build of what it checks.
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "src");

/** Stages in order; folders in one stage may import each other. */
const STAGES: string[][] = [
  ["util", "types"],
  ["engine"],
  ["io"],
  ["grid"],
  ["dataset"],
  ["plan"],
  ["preprocess"],
  ["interactive"],
  ["labels"],
  ["models"],
  ["run"],
  ["fisher"],
  ["train"],
  ["predict"],
  ["evaluate"],
  ["report", "experiment", "jobs", "demo"],
  ["web"],
  ["cli"],
  ["."], // src/index.ts
];

/**
 * Known upward imports, each with its reason (to be removed, not added to):
 * labels/from-run.ts loads a trained run to draw a background source from its classes.
 */
const EXCEPTIONS = new Set(["labels/from-run.ts -> predict/predict.ts"]);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === "client" || name === "static" ? [] : files(full);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [full] : [];
  });
}

const stageOf = (folder: string): number => STAGES.findIndex((s) => s.includes(folder));

/** Relative module specifiers of a file: static imports, re-exports and dynamic import("…"). */
function imports(source: string): string[] {
  const out: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;
  for (let m = pattern.exec(source); m; m = pattern.exec(source)) out.push(m[1]);
  return out;
}

test("no folder of src/ imports from a later stage", () => {
  const violations: string[] = [];
  const unknown = new Set<string>();
  for (const file of files(SRC)) {
    const rel = path.relative(SRC, file);
    const from = rel.includes(path.sep) ? rel.split(path.sep)[0] : ".";
    if (stageOf(from) < 0) unknown.add(from);
    for (const spec of imports(readFileSync(file, "utf8"))) {
      const target = path.relative(SRC, path.resolve(path.dirname(file), spec)).replace(/\.js$/, ".ts");
      if (target.startsWith("..")) continue; // outside src (none today)
      const to = target.includes(path.sep) ? target.split(path.sep)[0] : ".";
      if (stageOf(to) < 0) unknown.add(to);
      const edge = `${rel} -> ${target}`.split(path.sep).join("/");
      if (stageOf(to) > stageOf(from) && !EXCEPTIONS.has(edge)) violations.push(edge);
    }
  }
  assert.deepEqual([...unknown], [], "folders with no stage: add them to STAGES");
  assert.deepEqual(violations, [], "imports from a later stage");
});

test("the import scanner sees static, type-only, re-exported and dynamic imports", () => {
  const source = `import a from "./a.js";\nimport type { B } from "../b/b.js";\nexport { c } from "./c.js";\nconst d = await import("../d/d.js");\nimport "./e.js";`;
  assert.deepEqual(imports(source), ["./a.js", "../b/b.js", "./c.js", "../d/d.js", "./e.js"]);
});
