// The demo phantoms follow their rules; the demo is reproducible on CPU.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { PHANTOM_SHAPE, TISSUES, makePhantom } from "../../src/demo/phantom.js";
import { connectedComponents } from "../../src/grid/components.js";

test("phantoms: lesions only in the organ, confusers only in soft tissue, separate small lesions, seeded", () => {
  for (let seed = 1; seed <= 5; seed++) {
    const p = makePhantom(seed);
    const again = makePhantom(seed);
    assert.deepEqual(again.image, p.image, "same seed, same phantom");
    for (let i = 0; i < p.lesions.length; i++) if (p.lesions[i]) assert.equal(p.tissues[i], TISSUES.organ);
    const components = connectedComponents(p.lesions, PHANTOM_SHAPE, 26);
    assert.equal(components.count, p.lesionCount);
    assert.ok(p.lesionCount >= 3, `${p.lesionCount} lesions`);
    assert.ok(
      components.sizes.slice(1).every((s) => s >= 1 && s <= 150),
      `sizes ${components.sizes}`,
    );
    assert.ok(p.tissues.some((t) => t === TISSUES.confuser));
    // Confusers look like lesions: similar mean intensity.
    const meanOf = (pick: (i: number) => boolean) => {
      let s = 0;
      let n = 0;
      for (let i = 0; i < p.image.length; i++)
        if (pick(i)) {
          s += p.image[i];
          n++;
        }
      return s / n;
    };
    const lesion = meanOf((i) => p.lesions[i] === 1);
    const confuser = meanOf((i) => p.tissues[i] === TISSUES.confuser);
    assert.ok(Math.abs(lesion - confuser) < 0.1, `lesion ${lesion} vs confuser ${confuser}`);
  }
});

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");

test("backsplit demo --seed 1 twice gives identical numbers on CPU (tiny budget)", () => {
  const summaries = [0, 1].map(() => {
    const out = mkdtempSync(path.join(os.tmpdir(), "bs-demo-"));
    const r = spawnSync(
      process.execPath,
      [
        bin,
        "demo",
        "--out",
        out,
        "--seed",
        "1",
        "--epochs",
        "2",
        "--iterations",
        "2",
        "--train",
        "4",
        "--test",
        "2",
        "--threads",
        "2",
      ],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\| binary \|/);
    assert.ok(existsSync(path.join(out, "report.html")));
    // Fisher diagnostics of every BackSplit model: the split carries more information than binary.
    const rows = JSON.parse(readFileSync(path.join(out, "demo_summary.json"), "utf8")) as {
      arm: string;
      fisher: { traceY: number; traceZ: number; gap: number; gapSe: number } | null;
    }[];
    for (const row of rows.filter((x) => x.arm !== "binary")) {
      assert.ok(row.fisher, `${row.arm}: no Fisher estimate`);
      assert.ok(row.fisher.gap > 2 * row.fisher.gapSe, `${row.arm}: gap ${row.fisher.gap} ± ${row.fisher.gapSe}`);
      assert.ok(existsSync(path.join(out, "fisher", row.arm, "phantom_004_fisher_gap.nii.gz")));
    }
    assert.match(readFileSync(path.join(out, "report.html"), "utf8"), /<h2>Fisher information<\/h2>/);
    return readFileSync(path.join(out, "demo_summary.json"), "utf8");
  });
  assert.equal(summaries[0], summaries[1]);
});
