// Paired statistics against scipy: Wilcoxon signed-rank (exact and approximate), bootstrap CI.
import assert from "node:assert/strict";
import { test } from "node:test";
import { bootstrapCI, pairedSummary, wilcoxon } from "../../src/evaluate/stats.js";
import { assertClose } from "../helpers/assert.js";
import { normals } from "../helpers/data.js";
import { runPython } from "../helpers/python.js";

test("Wilcoxon p-values and bootstrap intervals agree with scipy", () => {
  const samples = [
    [0.5, -0.2, 0.3, 0.8, -0.1, 0.4, 0.25, 0.6, -0.35, 0.7],
    [1, 1, -1, 2, 2, 2, -3, 0, 4, 5],
    normals(60, 9).map((v) => v + 0.1),
    normals(12, 3),
  ];
  const boots = [normals(30, 4).map((v) => 0.2 + v), normals(80, 5)];
  const ref = runPython<{ wilcoxon: { statistic: number; p: number }[]; bootstrap: [number, number][] }>(
    "stats_reference.py",
    { wilcoxon: samples, bootstrap: boots },
  );
  samples.forEach((d, i) => {
    const w = wilcoxon(d);
    assert.equal(w.statistic, ref.wilcoxon[i].statistic, `statistic ${i}`);
    assertClose([w.pValue], [ref.wilcoxon[i].p], 1e-6, 1e-9, `p-value ${i}`);
  });
  boots.forEach((d, i) => {
    const ci = bootstrapCI(d, { resamples: 20000 });
    // Different random streams: agree within Monte Carlo error.
    assertClose(ci, ref.bootstrap[i], 0, 0.02, `bootstrap ${i}`);
  });
});

test("paired summaries count wins, ties and losses in the metric's better direction", () => {
  const a = [0.5, 0.6, 0.7, 0.8];
  const b = [0.6, 0.6, 0.65, 0.9];
  const s = pairedSummary(a, b, true);
  assert.deepEqual([s.wins, s.ties, s.losses], [2, 1, 1]);
  assertClose([s.meanDifference, s.medianDifference], [0.0375, 0.05], 1e-12, 1e-12);
  const hd = pairedSummary([5, 5], [3, 7], false);
  assert.deepEqual([hd.wins, hd.losses], [1, 1]);
  assert.throws(() => pairedSummary([1], [1, 2]), /differ in size/);
});
