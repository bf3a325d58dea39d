// The interactive engine: the random walker against a direct sparse solve (scipy), simulated clicks on
// known structures, exact undo, a negative click removing a leak, and bad prompts refused.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setThreads } from "../../src/engine/index.js";
import { SEED, randomWalker } from "../../src/interactive/random-walker.js";
import { InteractiveSession, type Voxel } from "../../src/interactive/session.js";
import { simulateClicks } from "../../src/interactive/simulate.js";
import { assertClose } from "../helpers/assert.js";
import { normals } from "../helpers/data.js";
import { runPython } from "../helpers/python.js";

setThreads(2);

function dice(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let both = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    both += a[i] && b[i] ? 1 : 0;
    na += a[i] ? 1 : 0;
    nb += b[i] ? 1 : 0;
  }
  return (2 * both) / Math.max(na + nb, 1);
}

test("the random walker equals a direct sparse solve of the Dirichlet problem", () => {
  const shape: [number, number, number] = [6, 7, 8]; // [D, H, W]
  const n = 6 * 7 * 8;
  const noise = normals(n, 3);
  const image = Float32Array.from({ length: n }, (_, i) => (i % 8 < 4 ? 1 : 0.3) + 0.1 * noise[i]);
  const seeds = new Uint8Array(n);
  seeds[2 + 8 * (3 + 7 * 2)] = SEED.foreground;
  seeds[6 + 8 * (3 + 7 * 3)] = SEED.background;
  seeds[0] = SEED.background;
  const ours = randomWalker(image, seeds, shape, { beta: 30, tolerance: 1e-7, maxIterations: 2000 });
  const ref = runPython<{ probability: number[] }>("random_walker_reference.py", {
    shape,
    image: Array.from(image),
    seeds: Array.from(seeds),
    beta: 30,
  });
  assertClose(ours.probability, ref.probability, 0, 2e-4, "probability");
});

/** A 40×40×32 volume: a bright sphere, a mid-grey box, a dark background, with noise. */
function phantom(): { image: Float32Array; labels: Uint8Array; shape: Voxel } {
  const shape: Voxel = [40, 40, 32];
  const n = shape[0] * shape[1] * shape[2];
  const noise = normals(n, 11);
  const image = new Float32Array(n);
  const labels = new Uint8Array(n);
  for (let z = 0, i = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[0]; x++, i++) {
        const sphere = (x - 13) ** 2 + (y - 20) ** 2 + (z - 16) ** 2 < 81;
        const box = x >= 26 && x <= 36 && y >= 8 && y <= 32 && z >= 6 && z <= 26;
        labels[i] = sphere ? 1 : box ? 2 : 0;
        image[i] = (sphere ? 1 : box ? 0.6 : 0.15) + 0.03 * noise[i];
      }
  return { image, labels, shape };
}

test("three simulated clicks per structure reach Dice ≥ 0.9 on known structures, reproducibly", () => {
  const p = phantom();
  const run = () => simulateClicks(p.image, p.labels, p.shape, { sphere: 1, box: 2 }, { clicks: 3, seed: 4 });
  const r = run();
  for (const s of r.structures) assert.ok(s.dice >= 0.9, `${s.name}: Dice ${s.dice} after ${s.clicks.length} clicks`);
  assert.ok(
    dice(
      r.map.map((v) => (v === 1 ? 1 : 0)),
      p.labels.map((v) => (v === 1 ? 1 : 0)),
    ) >= 0.9,
  );
  assert.deepEqual(run().map, r.map, "same seed, same map");
});

test("undo restores the previous mask exactly; reset clears it", () => {
  const p = phantom();
  const session = new InteractiveSession(p.image, p.shape);
  session.add({ kind: "point", at: [13, 20, 16], positive: true });
  const afterFirst = Uint8Array.from(session.mask);
  const second = session.add({ kind: "point", at: [31, 20, 16], positive: true });
  assert.ok(second.changed, "the second click changed something");
  const undone = session.undo();
  assert.deepEqual(session.mask, afterFirst);
  assert.deepEqual(undone.changed, second.changed);
  assert.equal(session.prompts.length, 1);
  session.reset();
  assert.equal(
    session.mask.reduce((a, b) => a + b, 0),
    0,
  );
});

test("a negative click removes a region the positive click leaked into", () => {
  // Two same-intensity spheres joined by a one-voxel bridge: one positive click takes both.
  const shape: Voxel = [48, 28, 28];
  const n = shape[0] * shape[1] * shape[2];
  const noise = normals(n, 5);
  const image = new Float32Array(n);
  const left = new Uint8Array(n);
  const right = new Uint8Array(n);
  for (let z = 0, i = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[0]; x++, i++) {
        const a = (x - 13) ** 2 + (y - 14) ** 2 + (z - 14) ** 2 < 64;
        const b = (x - 35) ** 2 + (y - 14) ** 2 + (z - 14) ** 2 < 64;
        const bridge = y === 14 && z === 14 && x > 13 && x < 35;
        left[i] = a ? 1 : 0;
        right[i] = b ? 1 : 0;
        image[i] = (a || b || bridge ? 1 : 0.1) + 0.02 * noise[i];
      }
  const session = new InteractiveSession(image, shape);
  session.add({ kind: "point", at: [13, 14, 14], positive: true });
  assert.ok(dice(session.mask, right) > 0.5, "the positive click leaked into the right sphere");
  const r = session.add({ kind: "point", at: [35, 14, 14], positive: false });
  assert.ok(dice(session.mask, right) < 0.05, `right sphere still ${dice(session.mask, right)}`);
  assert.ok(dice(session.mask, left) > 0.9, `left sphere ${dice(session.mask, left)}`);
  assert.ok(r.changed && r.changed.min[0] > 13, "the change is on the right");
});

test("prompts outside the image or inverted boxes are refused", () => {
  const p = phantom();
  const session = new InteractiveSession(p.image, p.shape);
  assert.throws(() => session.add({ kind: "point", at: [40, 0, 0], positive: true }), /outside the image 40×40×32/);
  assert.throws(() => session.add({ kind: "box", min: [5, 5, 5], max: [4, 9, 9] }), /exceeds max/);
  assert.throws(() => session.add({ kind: "scribble", points: [], positive: true }), /at least one point/);
  assert.equal(session.prompts.length, 0);
  // A box around the sphere segments it.
  session.add({ kind: "box", min: [3, 10, 6], max: [23, 30, 26] });
  assert.ok(
    dice(
      session.mask,
      p.labels.map((v) => (v === 1 ? 1 : 0)),
    ) > 0.9,
  );
});
