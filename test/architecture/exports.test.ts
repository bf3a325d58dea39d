// The package's public surface: every subpath in package.json "exports" resolves (by self-reference, as a
// user's `import … from "backsplit/<stage>"` does), has its section in docs/api.md, and exports every
// function, class and constant that section's signature block promises; the subpaths the docs say load no
// libtorch do not load it. Needs the build (dist/), not the sources.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as {
  name: string;
  exports: Record<string, string | { types?: string; default: string }>;
};
const DOCS = readFileSync(path.join(REPO, "docs", "api.md"), "utf8");

/** "./train" → "backsplit/train"; "." → "backsplit". */
const specifier = (key: string) => (key === "." ? pkg.name : `${pkg.name}/${key.slice(2)}`);
const STAGES = Object.keys(pkg.exports).filter((k) => k !== "." && k !== "./package.json");

interface Section {
  loadsLibtorch: boolean | null;
  /** Names the signature block promises: "train", "Optimizer.sgd", "F.crossEntropy"; constants marked. */
  names: { path: string; constant: boolean }[];
}

/** Each `## \`backsplit/x\`` section of docs/api.md: its "Loads libtorch" line and its signature block's names. */
function parseSections(markdown: string): Map<string, Section> {
  const sections = new Map<string, Section>();
  const parts = markdown.split(/^## /m).slice(1);
  for (const part of parts) {
    const heading = /^`([^`]+)`/.exec(part);
    if (!heading) continue;
    const loads = /Loads\s+libtorch:\s+\*\*(yes|no)\*\*/.exec(part);
    const block = /```ts signatures\n([\s\S]*?)```/.exec(part);
    const names: Section["names"] = [];
    for (const line of block ? block[1].split("\n") : []) {
      const m = /^(const\s+|new\s+)?([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*[(<:]/.exec(line.trim());
      if (m) names.push({ path: m[2], constant: m[1]?.trim() === "const" });
    }
    sections.set(heading[1], { loadsLibtorch: loads ? loads[1] === "yes" : null, names });
  }
  return sections;
}

const sections = parseSections(DOCS);

test("the docs' parser reads names, constants and the libtorch line", () => {
  const parsed = parseSections(
    "## `backsplit/x`\n\nLoads libtorch: **no**.\n\n```ts signatures\nf(a: number): void\nnew C(x)\nO.sgd(p): O\nconst K: number\n// a comment\n```\n\n```ts\nnotMe()\n```\n",
  );
  assert.deepEqual(parsed.get("backsplit/x"), {
    loadsLibtorch: false,
    names: [
      { path: "f", constant: false },
      { path: "C", constant: false },
      { path: "O.sgd", constant: false },
      { path: "K", constant: true },
    ],
  });
});

test("package.json: every stage folder with an index.ts is a subpath, every subpath has types", () => {
  for (const stage of [
    "engine",
    "io",
    "grid",
    "dataset",
    "plan",
    "preprocess",
    "interactive",
    "labels",
    "models",
    "fisher",
    "run",
    "train",
    "predict",
    "evaluate",
    "report",
    "experiment",
    "demo",
  ])
    assert.ok(STAGES.includes(`./${stage}`), `./${stage} is not exported`);
  for (const key of [".", ...STAGES]) {
    const target = pkg.exports[key];
    assert.ok(typeof target === "object" && target.types?.endsWith(".d.ts"), `${key}: no types condition`);
  }
});

test("docs/api.md has a section for every subpath and none for a subpath that does not exist", () => {
  const documented = [...sections.keys()].filter((k) => k.startsWith(`${pkg.name}/`));
  assert.deepEqual(documented.sort(), STAGES.map(specifier).sort());
  for (const key of STAGES) {
    const s = sections.get(specifier(key))!;
    assert.notEqual(s.loadsLibtorch, null, `${specifier(key)}: no "Loads libtorch" line`);
    assert.ok(s.names.length >= 3, `${specifier(key)}: fewer than three documented functions`);
  }
});

test("every subpath resolves and exports what docs/api.md promises", async () => {
  for (const key of [".", ...STAGES]) {
    const id = specifier(key);
    const mod = (await import(id)) as Record<string, unknown>;
    assert.ok(Object.keys(mod).length > 0, `${id}: exports nothing`);
    for (const { path: name, constant } of sections.get(id)?.names ?? []) {
      const value = name.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], mod);
      if (constant) assert.notEqual(value, undefined, `${id}: ${name} is not exported`);
      else assert.equal(typeof value, "function", `${id}: ${name} is not an exported function or class`);
    }
  }
});

test("the root exports every stage as a namespace", async () => {
  const root = (await import(pkg.name)) as Record<string, unknown>;
  for (const key of STAGES) {
    const stage = key.slice(2);
    const sub = (await import(specifier(key))) as Record<string, unknown>;
    assert.deepEqual(Object.keys(root[stage] as object).sort(), Object.keys(sub).sort(), `backsplit: ${stage}`);
  }
});

test("the subpaths documented as not loading libtorch do not load it", () => {
  const probe = (id: string) =>
    spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { createRequire } from "node:module"; await import(${JSON.stringify(id)}); const cache = createRequire(import.meta.url).cache; console.log(JSON.stringify(Object.keys(cache).filter((f) => f.endsWith(".node"))));`,
      ],
      { cwd: REPO, encoding: "utf8" },
    );
  let checkedNative = false;
  for (const key of STAGES) {
    const id = specifier(key);
    const s = sections.get(id)!;
    // The engine itself as the control: the probe does see the addon when it is loaded.
    if (s.loadsLibtorch && !(key === "./engine")) continue;
    const r = probe(id);
    assert.equal(r.status, 0, `${id}: ${r.stderr}`);
    const addons = JSON.parse(r.stdout.trim()) as string[];
    if (key === "./engine") {
      assert.ok(addons.length > 0, "the probe sees the engine's addon");
      checkedNative = true;
    } else assert.deepEqual(addons, [], `${id} loads a native addon at import`);
  }
  assert.ok(checkedNative);
});
