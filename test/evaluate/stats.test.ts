// Paired statistics against scipy: Wilcoxon signed-rank (exact and approximate), bootstrap CI.
import assert from "node:assert/strict";
import { test } from "node:test";
import { bootstrapCI, bootstrapRatioCI, pairedSummary, wilcoxon } from "../../src/evaluate/stats.js";
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
  // Paired ratios of means: ten runs' voxel Dice of two trainers, and a wide noisy pair.
  const ratios: [number[], number[]][] = [
    [
      [0.574, 0.514, 0.292, 0.204, 0.305, 0.444, 0.548, 0.274, 0.384, 0.362],
      [0.503, 0.452, 0.292, 0.482, 0.399, 0.468, 0.486, 0.372, 0.506, 0.302],
    ],
    [normals(15, 6).map((v) => 3 + v), normals(15, 7).map((v) => 2 + 0.5 * v)],
  ];
  const ref = runPython<{
    wilcoxon: { statistic: number; p: number }[];
    bootstrap: [number, number][];
    ratio: [number, number][];
  }>("stats_reference.py", { wilcoxon: samples, bootstrap: boots, ratio: ratios });
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
  ratios.forEach(([a, b], i) => {
    const ci = bootstrapRatioCI(a, b, { resamples: 20000 });
    assertClose(ci, ref.ratio[i], 0, 0.02, `ratio bootstrap ${i}`);
  });
});

test("the ratio bootstrap resamples pairs, not the two samples apart", () => {
  // Every pair has ratio 2, so every resample does: a bootstrap that broke the pairing would not.
  const den = [0.1, 0.5, 0.9, 0.3];
  const ci = bootstrapRatioCI(
    den.map((v) => 2 * v),
    den,
  );
  assertClose(ci, [2, 2], 1e-12, 0);
  assert.deepEqual(bootstrapRatioCI([], []), [Number.NaN, Number.NaN]);
  assert.throws(() => bootstrapRatioCI([1], [1, 2]), /differ in size/);
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
