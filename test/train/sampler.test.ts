// Lesion-aware sampling: lesion-centred patches are uniform over lesion instances, not voxels or cases;
// with lesionSampling 'voxel', nnU-Net's rule (a case uniformly, then one of its lesion voxels).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { CachedCase } from "../../src/preprocess/cache.js";
import { PatchSampler } from "../../src/train/sampler.js";

function meta(id: string, sizes: number[]): CachedCase {
  return {
    id,
    shape: [1, 40, 40, 40],
    spacing: [1, 1, 1],
    original: {
      shapeXyz: [40, 40, 40],
      spacingXyz: [1, 1, 1],
      origin: [0, 0, 0],
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      box: { start: [0, 0, 0], end: [40, 40, 40] },
    },
    lesions: sizes.map((voxels, i) => ({ label: 1, center: [5 + 3 * i, 20, 20], voxels })),
    backgroundSources: [],
  };
}

test("lesion-centred patches hit every lesion instance equally often (chi-square), whatever its size or case", () => {
  // Case a: one huge lesion and one tiny; case b: five small ones. Per voxel or per case would be far from uniform.
  const cases = [meta("a", [50000, 3]), meta("b", [10, 12, 8, 9, 11])];
  const sampler = new PatchSampler(cases, { patch: [16, 16, 16], batch: 3, seed: 42, lesionShare: 1 / 3 });
  assert.equal(sampler.instances.length, 7);
  const counts = new Array(7).fill(0);
  let lesionPatches = 0;
  let total = 0;
  for (let it = 0; it < 7000; it++) {
    for (const r of sampler.batch(it)) {
      total++;
      if (r.lesion !== null) {
        counts[r.lesion]++;
        lesionPatches++;
        const c = cases[r.caseIndex].lesions[sampler.instances[r.lesion][1]].center;
        // The lesion centre lies inside the patch.
        assert.ok(c.every((v, a) => v >= r.start[a] && v < r.start[a] + 16));
      }
    }
  }
  assert.equal(lesionPatches, 7000, "one of three slots per batch");
  assert.equal(total, 21000);
  const expected = lesionPatches / 7;
  const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  // 6 degrees of freedom: P(χ² > 22.46) = 0.001.
  assert.ok(chi2 < 22.46, `χ² = ${chi2.toFixed(2)}, counts ${counts}`);
  // Deterministic: the same iteration gives the same batch.
  assert.deepEqual(sampler.batch(123), sampler.batch(123));
});

test("with lesionSampling 'voxel' a case is drawn uniformly, then an instance in proportion to its voxels (chi-square)", () => {
  const cases = [meta("a", [600, 200]), meta("none", []), meta("b", [10, 30, 60])];
  const sampler = new PatchSampler(cases, {
    patch: [16, 16, 16],
    batch: 1,
    seed: 5,
    lesionShare: 1,
    lesionSampling: "voxel",
  });
  const counts = new Array(5).fill(0);
  const n = 20000;
  for (let it = 0; it < n; it++) {
    const [r] = sampler.batch(it);
    assert.notEqual(r.caseIndex, 1, "a case without lesions is never a lesion patch's");
    counts[r.lesion ?? -1]++;
  }
  // Hand values: each case ½; in a, 600:200; in b, 10:30:60.
  const expected = [3 / 8, 1 / 8, 0.05, 0.15, 0.3].map((p) => p * n);
  const chi2 = counts.reduce((s, c, i) => s + (c - expected[i]) ** 2 / expected[i], 0);
  // 4 degrees of freedom: P(χ² > 18.47) = 0.001.
  assert.ok(chi2 < 18.47, `χ² = ${chi2.toFixed(2)}, counts ${counts}`);
});

test("lesion patches centred on a point of the lesion's box by default, on its centre with lesionPoint 'centre'", () => {
  // One lesion spanning z 4–30 (centre 17) in a 40³ volume; 16³ patches, jitter up to a quarter patch (±4).
  const c = meta("a", [500]);
  c.lesions[0] = { ...c.lesions[0], center: [17, 20, 20], lo: [4, 18, 18], hi: [30, 22, 22] };
  const offsets = (lesionPoint?: "box" | "centre") => {
    const sampler = new PatchSampler([c], { patch: [16, 16, 16], batch: 1, seed: 7, lesionShare: 1, lesionPoint });
    // The patch's middle slice against the lesion's centre slice.
    return Array.from({ length: 2000 }, (_, it) => sampler.batch(it)[0].start[0] + 8 - 17);
  };
  const centre = offsets("centre");
  assert.ok(
    centre.every((d) => Math.abs(d) <= 4),
    "the centre, jittered by at most a quarter patch",
  );
  const box = offsets();
  // z drawn over 4–30 then jittered ±4 (clamped into 0–24 as a start): the middle slice reaches 8 from the centre.
  assert.ok(Math.max(...box.map(Math.abs)) >= 8);
  assert.ok(box.some((d) => d > 4) && box.some((d) => d < -4));
});
