// Connected components against scipy.ndimage.label (moved from test/dataset/stats.test.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { connectedComponents } from "../../src/grid/components.js";
import { prng } from "../helpers/data.js";
import { runPython } from "../helpers/python.js";

test("26- and 6-connected components match scipy.ndimage.label on random masks", () => {
  const cases: { shape: number[]; mask: number[]; connectivity: 26 | 6 }[] = [];
  for (const [k, density] of [0.05, 0.15, 0.3].entries()) {
    for (const connectivity of [26, 6] as const) {
      const shape = [17, 13, 11];
      const r = prng(10 * k + connectivity);
      cases.push({ shape, mask: Array.from({ length: 17 * 13 * 11 }, () => (r() < density ? 1 : 0)), connectivity });
    }
  }
  const ref = runPython<{ count: number; sizes: number[] }[]>("components_reference.py", { cases });
  cases.forEach((c, i) => {
    const ours = connectedComponents(c.mask, c.shape, c.connectivity);
    assert.equal(ours.count, ref[i].count, `case ${i}`);
    assert.deepEqual(
      ours.sizes.slice(1).sort((a, b) => a - b),
      ref[i].sizes,
      `case ${i}`,
    );
    // Every labelled voxel is in the mask and vice versa.
    assert.ok(c.mask.every((m, p) => (m ? ours.labels[p] > 0 : ours.labels[p] === 0)));
  });
});

test("hand-built components: diagonal neighbours join under 26- but not 6-connectivity", () => {
  const shape = [4, 4, 4];
  const mask = new Uint8Array(64);
  mask[0] = 1; // (0,0,0)
  mask[1 + 4 * (1 + 4 * 1)] = 1; // (1,1,1): corner neighbour
  mask[3 + 4 * (3 + 4 * 3)] = 1; // (3,3,3): isolated
  assert.equal(connectedComponents(mask, shape, 26).count, 2);
  assert.equal(connectedComponents(mask, shape, 6).count, 3);
});
