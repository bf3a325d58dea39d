// Merge rules on a synthetic 1-D-like case with hand-computed targets.
import assert from "node:assert/strict";
import { test } from "node:test";
import { mergeTargets } from "../../src/labels/merge.js";

// Ten voxels in a row (shape [10, 1, 1], 1 mm): lesion at 4–5.
const shape = [10, 1, 1];
const spacing = [1, 1, 1];
const lesion = [0, 0, 0, 0, 1, 1, 0, 0, 0, 0];
// atlas: wm (1) on 0–5, csf (2) on 6–7; tissue: wm (5) on 3–8, fat (6) on 9.
const atlas = { name: "atlas", map: [1, 1, 1, 1, 1, 1, 2, 2, 0, 0], classes: { wm: 1, csf: 2 } };
const tissue = { name: "tissue", map: [0, 0, 0, 5, 5, 5, 5, 5, 5, 6], classes: { wm: 5, fat: 6 } };

test("lesion wins, sources paint in priority order, same-named classes merge, report counts", () => {
  const { target, report } = mergeTargets({
    lesion,
    lesionClasses: { lesion: 1 },
    sources: [atlas, tissue],
    shape,
    spacing,
  });
  assert.deepEqual(report.classes, { background: 0, lesion: 1, wm: 2, csf: 3, fat: 4 });
  assert.deepEqual(Array.from(target), [2, 2, 2, 2, 1, 1, 3, 3, 2, 4]);
  assert.deepEqual(report.lesionClaimed, { atlas: 2, tissue: 2 });
  assert.deepEqual(report.overlaps, { "atlas & tissue": 5 });
  assert.deepEqual(report.volumes, { background: 0, lesion: 2, wm: 5, csf: 2, fat: 1 });
  // Reversed priority: tissue's wm wins on 6–7 over atlas's csf.
  const reversed = mergeTargets({ lesion, lesionClasses: { lesion: 1 }, sources: [tissue, atlas], shape, spacing });
  assert.deepEqual(reversed.report.classes, { background: 0, lesion: 1, wm: 2, fat: 3, csf: 4 });
  assert.deepEqual(Array.from(reversed.target), [2, 2, 2, 2, 1, 1, 2, 2, 2, 3]);
});

test("unassigned voxels become ignore on request (the highest value, as nnU-Net requires)", () => {
  const { target, report } = mergeTargets({
    lesion,
    lesionClasses: { lesion: 1 },
    sources: [atlas],
    unassigned: "ignore",
    shape,
    spacing,
  });
  assert.equal(report.ignoreValue, 4);
  assert.deepEqual(Array.from(target), [2, 2, 2, 2, 1, 1, 3, 3, 4, 4]);
});

test("only near lesions: background classes survive within the margin, generic background elsewhere", () => {
  const { target } = mergeTargets({
    lesion,
    lesionClasses: { lesion: 1 },
    sources: [atlas, tissue],
    nearMm: 2,
    shape,
    spacing,
  });
  // Within 2 mm of voxels 4–5: voxels 2–7.
  assert.deepEqual(Array.from(target), [0, 0, 2, 2, 1, 1, 3, 3, 0, 0]);
  // Anisotropic spacing: 0.5 mm voxels → 2 mm reaches 4 voxels.
  const fine = mergeTargets({
    lesion,
    lesionClasses: { lesion: 1 },
    sources: [atlas],
    nearMm: 2,
    shape,
    spacing: [0.5, 1, 1],
  });
  assert.deepEqual(Array.from(fine.target), [2, 2, 2, 2, 1, 1, 3, 3, 0, 0]);
  // Near a given mask (an "organ" at voxel 9) instead of the lesion.
  const organ = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  const nearOrgan = mergeTargets({
    lesion,
    lesionClasses: { lesion: 1 },
    sources: [tissue],
    nearMm: 1,
    nearMask: organ,
    shape,
    spacing,
  });
  assert.deepEqual(Array.from(nearOrgan.target), [0, 0, 0, 0, 1, 1, 0, 0, 2, 3]);
});

test("multi-lesion datasets keep every lesion value; class-name clashes are refused", () => {
  const two = [0, 2, 0, 0, 1, 1, 0, 0, 0, 0];
  const { target } = mergeTargets({
    lesion: two,
    lesionClasses: { enhancing: 1, necrosis: 2 },
    sources: [atlas],
    shape,
    spacing,
  });
  assert.deepEqual(Array.from(target), [3, 2, 3, 3, 1, 1, 4, 4, 0, 0]);
  assert.throws(
    () =>
      mergeTargets({
        lesion,
        lesionClasses: { lesion: 1 },
        sources: [{ name: "bad", map: lesion, classes: { lesion: 1 } }],
        shape,
        spacing,
      }),
    /class "lesion" clashes/,
  );
});

test("unassigned voxels can be marked 'unknown background' for the marginal likelihood", () => {
  const { target, report } = mergeTargets({
    lesion,
    lesionClasses: { lesion: 1 },
    sources: [atlas],
    unassigned: "marginal",
    shape,
    spacing,
  });
  assert.equal(report.classes.unknown_background, 4);
  assert.deepEqual(Array.from(target), [2, 2, 2, 2, 1, 1, 3, 3, 4, 4]);
});
