// examples/pipeline.ts runs end to end with a tiny budget: phantoms → sources → plan → preprocess →
// train binary and BackSplit → predict → evaluate → report, through the package's public subpaths only.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Evaluation } from "../../src/evaluate/evaluate.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const EXAMPLE = path.join(REPO, "dist", "examples", "pipeline.js");

test("the example pipeline imports only backsplit/<stage> subpaths", () => {
  const source = readFileSync(path.join(REPO, "examples", "pipeline.ts"), "utf8");
  const specifiers = [...source.matchAll(/\bfrom\s+"([^"]+)"/g)].map((m) => m[1]);
  assert.ok(specifiers.length > 0);
  for (const s of specifiers) assert.match(s, /^(node:|backsplit\/[a-z]+$)/, `${s}: not a public subpath`);
});

test("examples/pipeline.js --tiny writes predictions for every test case, both evaluations and the report", () => {
  const out = mkdtempSync(path.join(os.tmpdir(), "bs-example-"));
  try {
    const r = spawnSync(process.execPath, [EXAMPLE, out, "--tiny", "--threads", "1"], {
      cwd: os.tmpdir(), // the package resolves itself from the script's location, not the working folder
      encoding: "utf8",
      timeout: 180_000,
    });
    assert.equal(r.status, 0, `stderr:\n${r.stderr}`);
    assert.match(r.stdout, /report: .*report\.html/);

    const html = path.join(out, "report.html");
    assert.ok(existsSync(html), "report.html");
    assert.match(readFileSync(html, "utf8"), /binary vs BackSplit/);
    for (const f of ["report.json", "report.csv", "report.md"]) assert.ok(existsSync(path.join(out, f)), f);

    const testCases = readdirSync(path.join(out, "dataset", "labelsTs"))
      .map((f) => f.replace(/\.nii\.gz$/, ""))
      .sort();
    assert.equal(testCases.length, 2, "the tiny budget's two test phantoms");
    for (const arm of ["binary", "backsplit"]) {
      for (const id of testCases)
        assert.ok(existsSync(path.join(out, "predictions", arm, `${id}.nii.gz`)), `${arm}: prediction of ${id}`);
      const evaluation = JSON.parse(readFileSync(path.join(out, `evaluation_${arm}.json`), "utf8")) as Evaluation;
      assert.deepEqual(evaluation.cases.map((c) => c.id).sort(), testCases, `${arm}: every test case evaluated`);
      for (const c of evaluation.cases) {
        const lesion = c.classes["1"];
        for (const metric of ["dice", "f1", "precision", "recall", "falsePositives"] as const)
          assert.ok(Number.isFinite(lesion[metric]), `${arm} ${c.id} ${metric}: ${lesion[metric]}`);
        assert.ok(lesion.dice >= 0 && lesion.dice <= 1);
      }
      assert.ok(existsSync(path.join(out, "runs", arm, "log.jsonl")), `${arm}: training log`);
    }
    // The BackSplit arm trained on the split background: more than background + lesion classes.
    const record = JSON.parse(readFileSync(path.join(out, "runs", "backsplit", "training.json"), "utf8")) as {
      numClasses: number;
    };
    assert.ok(record.numClasses > 2, `backsplit classes: ${record.numClasses}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
