// `backsplit dataset check` on a bad-input corpus: each broken case gets its expected line, nothing is written.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { DATASET_JSON, writeBadCorpus, writeCase } from "../fixtures/corpus.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");

function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => `${f}:${statSync(path.join(dir, f)).mtimeMs}`)
    .sort();
}

test("every problem of the bad corpus is reported on its own line naming the file", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-bad-"));
  const expected = writeBadCorpus(root);
  const before = snapshot(root);
  const r = spawnSync(process.execPath, [bin, "dataset", "check", root, "--workers", "2"], { encoding: "utf8" });
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stdout.trim().split("\n");
  for (const line of expected)
    assert.ok(
      lines.some((l) => l.startsWith(line)),
      `missing line: ${line}\n--- got:\n${r.stdout}`,
    );
  // good's lines: none; every other line is one of the expected ones (no noise).
  assert.equal(lines.filter((l) => l.includes("good")).length, 0);
  assert.equal(lines.length, expected.length + 1, r.stdout);
  assert.match(lines.at(-1)!, /13 training cases: 11 error\(s\), 2 warning\(s\)/);
  assert.deepEqual(snapshot(root), before, "check wrote nothing");
});

test("a clean dataset passes with exit code 0; --json gives one object per line", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-good-"));
  writeFileSync(path.join(root, "dataset.json"), JSON.stringify(DATASET_JSON));
  writeCase(root, "a", {});
  writeCase(root, "b", {});
  const r = spawnSync(process.execPath, [bin, "dataset", "check", root, "--json"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const objects = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(objects.at(-1), { event: "summary", cases: 2, errors: 0, warnings: 0 });
});

test("a broken dataset.json is one clear error", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-json-"));
  writeFileSync(path.join(root, "dataset.json"), JSON.stringify({ ...DATASET_JSON, labels: { lesion: 1 } }));
  const r = spawnSync(process.execPath, [bin, "dataset", "check", root], { encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /dataset.json: "labels" must contain "background": 0/);
});
