// `backsplit evaluate` and `backsplit compare` as a user runs them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { encodeNifti } from "../../src/io/nifti.js";
import { Volume } from "../../src/io/volume.js";
import { jsonEvents } from "../helpers/cli.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");

function put(dir: string, id: string, voxels: number[]): void {
  mkdirSync(dir, { recursive: true });
  const data = new Uint8Array(20 * 10 * 10);
  for (const x of voxels) for (const y of [4, 5]) for (const z of [4, 5]) data[x + 20 * (y + 10 * z)] = 1;
  writeFileSync(
    path.join(dir, `${id}.nii.gz`),
    encodeNifti(new Volume(data, { shape: [20, 10, 10], spacing: [1, 1, 1] }), true),
  );
}

test("evaluate writes JSON and CSV; compare reports paired differences with CIs and p-values", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-eval-"));
  const ref = path.join(root, "ref");
  const a = path.join(root, "binary");
  const b = path.join(root, "backsplit");
  for (let k = 0; k < 6; k++) {
    put(ref, `c${k}`, [2, 3, 10, 15]); // three lesions: x 2–3, x 10, x 15
    put(a, `c${k}`, k % 2 ? [2, 3] : [2, 3, 18]); // misses two, sometimes a false positive
    put(b, `c${k}`, [2, 3, 10]); // misses one
  }
  const ev = spawnSync(process.execPath, [bin, "evaluate", b, ref, "--out", path.join(root, "b.json")], {
    encoding: "utf8",
  });
  assert.equal(ev.status, 0, ev.stderr);
  assert.match(ev.stdout, /\| dice \| iou \| hd95Mm/);
  const evaluation = JSON.parse(readFileSync(path.join(root, "b.json"), "utf8"));
  assert.equal(evaluation.cases.length, 6);
  assert.equal(evaluation.cases[0].classes["1"].recall, 2 / 3);
  assert.ok(existsSync(path.join(root, "b.csv")));
  const cmp = spawnSync(process.execPath, [bin, "compare", a, b, "--ref", ref, "--json"], { encoding: "utf8" });
  assert.equal(cmp.status, 0, cmp.stderr);
  const c = JSON.parse(cmp.stdout);
  const recall = c.perClass["1"].metrics.recall;
  assert.equal(recall.meanDifference, 1 / 3);
  assert.deepEqual([recall.wins, recall.ties, recall.losses], [6, 0, 0]);
  assert.equal(
    recall.pValue,
    0.03125,
    "exact Wilcoxon, 6 positive differences (tied magnitudes → normal approximation would differ)",
  );
  const fp = c.perClass["1"].metrics.falsePositives;
  assert.deepEqual([fp.wins, fp.ties, fp.losses], [3, 3, 0], "fewer false positives is a win");
  const withReport = spawnSync(
    process.execPath,
    [bin, "compare", a, b, "--ref", ref, "--report", path.join(root, "report")],
    { encoding: "utf8" },
  );
  assert.equal(withReport.status, 0, withReport.stderr);
  for (const f of ["report.html", "report.json", "report.csv", "report.md"])
    assert.ok(existsSync(path.join(root, "report", f)), f);
  const missing = spawnSync(process.execPath, [bin, "evaluate", path.join(root, "nothing"), ref], { encoding: "utf8" });
  assert.notEqual(missing.status, 0);
});

test("evaluate --cases scores a subset of the references; unknown or malformed ids are refused", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-eval-cases-"));
  const ref = path.join(root, "ref");
  const pred = path.join(root, "pred");
  for (const id of ["c0", "c1", "c2"]) put(ref, id, [2, 3, 10]);
  put(pred, "c0", [2, 3, 10]); // both lesions found
  put(pred, "c2", [2, 3]); // one of two
  const run = (...extra: string[]) =>
    spawnSync(process.execPath, [bin, "evaluate", pred, ref, "--json", ...extra], { encoding: "utf8" });
  const all = run();
  assert.equal(all.status, 1, all.stderr);
  assert.match(all.stderr, /pred: no prediction for c1/);
  const subset = run("--cases", "c2,c0");
  assert.equal(subset.status, 0, subset.stderr);
  const [e] = jsonEvents(subset.stdout, "evaluation");
  assert.deepEqual(
    e.cases.map((c: { id: string }) => c.id),
    ["c0", "c2"],
    "reference order, whatever order --cases names them in",
  );
  assert.deepEqual(
    e.cases.map((c: { classes: Record<string, { recall: number }> }) => c.classes["1"].recall),
    [1, 0.5],
  );
  const saved = path.join(root, "subset.json");
  assert.equal(run("--cases", "c0,c2", "--out", saved).status, 0);
  const compared = spawnSync(process.execPath, [bin, "compare", saved, saved, "--cases", "c2", "--json"], {
    encoding: "utf8",
  });
  assert.equal(compared.status, 0, compared.stderr);
  assert.deepEqual(JSON.parse(compared.stdout).cases, ["c2"], "compare filters saved evaluations too");
  const unknown = run("--cases", "c0,c9");
  assert.equal(unknown.status, 1, unknown.stderr);
  assert.match(unknown.stderr, /ref: no reference label map for case c9/);
  const malformed = run("--cases", "c0,,c2");
  assert.equal(malformed.status, 2, malformed.stderr);
  assert.match(malformed.stderr, /--cases must be distinct case ids separated by commas, got 'c0,,c2'/);
});
