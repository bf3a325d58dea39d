// The Euclidean distance transform against scipy.ndimage.distance_transform_edt, anisotropic spacing.
import { test } from "node:test";
import { squaredDistanceToMask } from "../../src/grid/distance.js";
import { assertClose } from "../helpers/assert.js";
import { prng } from "../helpers/data.js";
import { runPython } from "../helpers/python.js";

test("distance transform matches scipy on random sparse masks with anisotropic spacing", () => {
  for (const [seed, density, spacing] of [
    [1, 0.01, [1, 1, 1]],
    [2, 0.002, [0.7, 1.3, 2.5]],
    [3, 0.2, [1, 0.5, 3]],
  ] as const) {
    const shape = [19, 14, 11];
    const r = prng(seed);
    const mask = Array.from({ length: 19 * 14 * 11 }, () => (r() < density ? 1 : 0));
    mask[0] = 1;
    const ours = Array.from(squaredDistanceToMask(mask, shape, spacing), Math.sqrt);
    const ref = runPython<{ distance: number[] }>("edt_reference.py", { mask, shape, spacing });
    assertClose(ours, ref.distance, 1e-9, 1e-9, `seed ${seed}`);
  }
});
