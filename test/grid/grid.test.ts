// The grid module's boxes, spreads and box mean, against scipy.ndimage where it has the operation.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  boundsToBox,
  boxToBounds,
  changedBounds,
  cropArray,
  fillBounds,
  maskBounds,
  nonzeroBounds,
  nonzeroBox,
  pasteArray,
  uncropArray,
  unionBounds,
} from "../../src/grid/box.js";
import { ball, boxMean3, spread } from "../../src/grid/neighbours.js";
import { assertClose } from "../helpers/assert.js";
import { prng } from "../helpers/data.js";
import { runPython } from "../helpers/python.js";

const SHAPE = [9, 7, 5]; // [nx, ny, nz]
const N = 9 * 7 * 5;
const at = (x: number, y: number, z: number) => x + 9 * (y + 7 * z);

test("box mean and 6-/26-connected spreads match scipy (uniform_filter, label)", () => {
  const r = prng(7);
  const image = Float32Array.from({ length: N }, () => Math.round(r() * 1000) / 10);
  const mask = Array.from({ length: N }, () => (r() < 0.35 ? 1 : 0));
  const seeds = [0, 1, 2, 3, 4].map(() => Math.floor(r() * N)).filter((i) => mask[i]);
  assert.ok(seeds.length > 0);
  const ref = runPython<{ mean: number[]; fills: Record<string, number[]> }>("grid_reference.py", {
    shape: SHAPE,
    image: Array.from(image),
    mask,
    seeds,
  });
  assertClose(Array.from(boxMean3(image, SHAPE)), ref.mean, 1e-4, 1e-5, "box mean");
  for (const connectivity of [6, 26] as const) {
    const out = new Uint8Array(N);
    const queue = new Int32Array(N);
    const enter = (i: number) => {
      if (out[i] || !mask[i]) return false;
      out[i] = 1;
      return true;
    };
    let tail = 0;
    for (const s of seeds) if (enter(s)) queue[tail++] = s;
    spread(SHAPE, queue, tail, () => true, enter, connectivity);
    assert.deepEqual(Array.from(out), ref.fills[String(connectivity)], `${connectivity}-connected fill`);
  }
});

test("bounds and boxes: non-zero bounds, crop and paste back, fill, changes", () => {
  const mask = new Uint8Array(N);
  assert.equal(maskBounds(mask, SHAPE), null);
  assert.equal(nonzeroBounds([mask], [5, 7, 9]), null);
  assert.deepEqual(nonzeroBox([mask], [5, 7, 9]), { start: [0, 0, 0], end: [5, 7, 9] });
  mask[at(2, 1, 3)] = 1;
  mask[at(6, 4, 1)] = 1;
  const bounds = maskBounds(mask, SHAPE);
  assert.deepEqual(bounds, { min: [2, 1, 1], max: [6, 4, 3] });
  const box = boundsToBox(bounds!);
  assert.deepEqual(box, nonzeroBox([mask], [5, 7, 9]));
  assert.deepEqual(boxToBounds(box), bounds);
  const cropped = cropArray(mask, [5, 7, 9], box, (n) => new Uint8Array(n));
  assert.equal(cropped.length, 5 * 4 * 3);
  assert.deepEqual(
    uncropArray(cropped, [5, 7, 9], box, (n) => new Uint8Array(n)),
    mask,
  );
  const pasted = new Uint8Array(N);
  pasteArray(pasted, cropped, [5, 7, 9], box);
  assert.deepEqual(pasted, mask);
  const filled = new Uint8Array(N);
  fillBounds(filled, SHAPE, bounds!, 3);
  assert.equal(
    filled.reduce((n, v) => n + (v === 3 ? 1 : 0), 0),
    5 * 4 * 3,
  );
  assert.deepEqual(changedBounds(filled, filled, SHAPE, bounds!), null);
  const other = Uint8Array.from(filled);
  other[at(3, 2, 2)] = 0;
  assert.deepEqual(changedBounds(filled, other, SHAPE, bounds!), { min: [3, 2, 2], max: [3, 2, 2] });
  assert.deepEqual(unionBounds({ min: [0, 5, 2], max: [1, 6, 3] }, bounds!), { min: [0, 1, 1], max: [6, 6, 3] });
  const visited: number[] = [];
  ball(SHAPE, [0, 0, 0], 1, (i) => visited.push(i));
  assert.deepEqual(visited, [at(0, 0, 0), at(1, 0, 0), at(0, 1, 0), at(0, 0, 1)]);
});
