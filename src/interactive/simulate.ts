// Simulated clicks (the paper's "7 or 10 clicks per structure" experiment, without a person): for each
// structure of a reference label map, click where the current mask is most wrong — a positive click
// deep inside the largest missed region or, with negatives, a negative click inside the largest
// false region — and let the random walker update the mask. Seeded: ties between equally deep
// voxels are broken by a seeded draw.
import { maskBounds } from "../grid/box.js";
import { squaredDistanceToMask } from "../grid/distance.js";
import { mulberry32 } from "../util/random.js";
import { InteractiveSession, type SessionOptions, type Voxel } from "./session.js";

export interface SimulateOptions extends SessionOptions {
  clicks: number;
  /** Allow negative clicks on false-positive regions. */
  negatives?: boolean;
  seed?: number;
}

export interface StructureResult {
  name: string;
  value: number;
  referenceVoxels: number;
  clicks: { positive: boolean; at: Voxel }[];
  dice: number;
  /** Dice after each click. */
  diceByClick: number[];
  maxSecondsPerClick: number;
}

function dice(a: Uint8Array, ref: Uint8Array): number {
  let both = 0;
  let na = 0;
  let nr = 0;
  for (let i = 0; i < a.length; i++) {
    both += a[i] & ref[i];
    na += a[i];
    nr += ref[i];
  }
  return na + nr === 0 ? 1 : (2 * both) / (na + nr);
}

/**
 * The deepest voxel of a mask (seeded choice among those at ≥ 80 % of the largest depth), or null
 * when the mask is empty or nowhere at least `minDepth` voxels deep (a sliver along a boundary is
 * not worth a click).
 */
export function deepestVoxel(mask: Uint8Array, shape: Voxel, random: () => number, minDepth = 2): Voxel | null {
  const [nx, ny, nz] = shape;
  const bounds = maskBounds(mask, shape);
  if (!bounds) return null;
  const { min: lo, max: hi } = bounds;
  // Distances inside the mask's bounding box, padded by one voxel of "outside".
  const min = lo.map((v) => v - 1);
  const size = [0, 1, 2].map((a) => hi[a] - lo[a] + 3);
  const outside = new Uint8Array(size[0] * size[1] * size[2]);
  for (let z = 0, j = 0; z < size[2]; z++)
    for (let y = 0; y < size[1]; y++)
      for (let x = 0; x < size[0]; x++, j++) {
        const [gx, gy, gz] = [x + min[0], y + min[1], z + min[2]];
        const inside = gx >= 0 && gy >= 0 && gz >= 0 && gx < nx && gy < ny && gz < nz && mask[gx + nx * (gy + ny * gz)];
        outside[j] = inside ? 0 : 1;
      }
  const d = squaredDistanceToMask(outside, size, [1, 1, 1]);
  let best = 0;
  for (let j = 0; j < d.length; j++) if (d[j] > best) best = d[j];
  if (best < minDepth * minDepth) return null;
  const candidates: number[] = [];
  for (let j = 0; j < d.length; j++) if (d[j] >= 0.64 * best && !outside[j]) candidates.push(j);
  const j = candidates[Math.floor(random() * candidates.length)];
  const x = j % size[0];
  const y = Math.floor(j / size[0]) % size[1];
  const z = Math.floor(j / (size[0] * size[1]));
  return [x + min[0], y + min[1], z + min[2]];
}

/**
 * Segments every structure (class value → name) of `reference` with simulated clicks on `image`
 * (both [nx, ny, nz], x fastest). Returns the combined label map (smaller structures win where masks
 * overlap) and per-structure results.
 */
export function simulateClicks(
  image: ArrayLike<number>,
  reference: ArrayLike<number>,
  shape: Voxel,
  classes: Record<string, number>,
  o: SimulateOptions,
): { map: Uint8Array; structures: StructureResult[] } {
  const random = mulberry32(o.seed ?? 0);
  const n = shape[0] * shape[1] * shape[2];
  const structures: (StructureResult & { mask: Uint8Array })[] = [];
  for (const [name, value] of Object.entries(classes).sort((a, b) => a[1] - b[1])) {
    const ref = new Uint8Array(n);
    let count = 0;
    for (let i = 0; i < n; i++)
      if (reference[i] === value) {
        ref[i] = 1;
        count++;
      }
    if (count === 0) continue;
    const session = new InteractiveSession(image, shape, o);
    const clicks: StructureResult["clicks"] = [];
    const diceByClick: number[] = [];
    let slowest = 0;
    for (let c = 0; c < o.clicks; c++) {
      const missed = new Uint8Array(n);
      const extra = new Uint8Array(n);
      let nMissed = 0;
      let nExtra = 0;
      for (let i = 0; i < n; i++) {
        if (ref[i] && !session.mask[i]) {
          // A user labelling a structure does not click in the empty space around the subject, even
          // where a registered atlas puts part of the structure there; those voxels still count in the Dice.
          if (session.isEmptySpace(i)) continue;
          missed[i] = 1;
          nMissed++;
        } else if (!ref[i] && session.mask[i]) {
          extra[i] = 1;
          nExtra++;
        }
      }
      const positive = !(o.negatives && nExtra > nMissed);
      const at = deepestVoxel(positive ? missed : extra, shape, random);
      if (!at) break;
      const r = session.add({ kind: "point", at, positive });
      slowest = Math.max(slowest, r.seconds);
      clicks.push({ positive, at });
      diceByClick.push(dice(session.mask, ref));
    }
    structures.push({
      name,
      value,
      referenceVoxels: count,
      clicks,
      dice: dice(session.mask, ref),
      diceByClick,
      maxSecondsPerClick: slowest,
      mask: Uint8Array.from(session.mask),
    });
  }
  const map = new Uint8Array(n);
  for (const s of [...structures].sort((a, b) => b.referenceVoxels - a.referenceVoxels))
    for (let i = 0; i < n; i++) if (s.mask[i]) map[i] = s.value;
  return { map, structures: structures.map(({ mask: _, ...rest }) => rest) };
}
