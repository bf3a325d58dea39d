// Boxes on a voxel grid. Two conventions, both over arrays with x fastest:
// - `Box`: [z, y, x] start (inclusive) and end (exclusive), over shapes given as [nz, ny, nx]
//   (preprocessing's crop to the non-zero region, nnU-Net's "crop to nonzero");
// - `Bounds`: [x, y, z] min and max, both inclusive, over shapes given as [nx, ny, nz] (a Volume's
//   layout; the interactive session's regions and changed boxes).

export interface Box {
  start: [number, number, number];
  end: [number, number, number];
}

/** Bounding box of the non-zero voxels of any array (each [z, y, x] of `shape`; NaN counts as zero), or null if there are none. */
export function nonzeroBounds(arrays: readonly ArrayLike<number>[], shape: readonly number[]): Box | null {
  const [nz, ny, nx] = shape;
  const lo = [nz, ny, nx];
  const hi = [-1, -1, -1];
  for (const a of arrays) {
    for (let z = 0, p = 0; z < nz; z++) {
      for (let y = 0; y < ny; y++) {
        for (let x = 0; x < nx; x++, p++) {
          if (a[p] === 0 || Number.isNaN(a[p])) continue;
          if (z < lo[0]) lo[0] = z;
          if (z > hi[0]) hi[0] = z;
          if (y < lo[1]) lo[1] = y;
          if (y > hi[1]) hi[1] = y;
          if (x < lo[2]) lo[2] = x;
          if (x > hi[2]) hi[2] = x;
        }
      }
    }
  }
  if (hi[0] < 0) return null;
  return { start: lo as Box["start"], end: hi.map((h) => h + 1) as Box["end"] };
}

/** Bounding box of the non-zero voxels of any array (each [z, y, x] of `shape`); the whole volume if all are zero. */
export function nonzeroBox(arrays: readonly ArrayLike<number>[], shape: readonly number[]): Box {
  const [nz, ny, nx] = shape;
  return nonzeroBounds(arrays, shape) ?? { start: [0, 0, 0], end: [nz, ny, nx] };
}

export function boxShape(box: Box): [number, number, number] {
  return [box.end[0] - box.start[0], box.end[1] - box.start[1], box.end[2] - box.start[2]];
}

/** Copies the box out of a [z, y, x] array into a new array of the same type. */
export function cropArray<T extends ArrayLike<number> & { subarray(a: number, b: number): T }>(
  data: T,
  shape: readonly number[],
  box: Box,
  make: (n: number) => T & { set(a: ArrayLike<number>, offset: number): void },
): T {
  const [, ny, nx] = shape;
  const [dz, dy, dx] = boxShape(box);
  const out = make(dz * dy * dx);
  let o = 0;
  for (let z = box.start[0]; z < box.end[0]; z++) {
    for (let y = box.start[1]; y < box.end[1]; y++) {
      const from = nx * (y + ny * z) + box.start[2];
      out.set(data.subarray(from, from + dx), o);
      o += dx;
    }
  }
  return out;
}

/** Writes a cropped [z, y, x] array into `into` (of the full shape) at the box. */
export function pasteArray<T extends ArrayLike<number> & { subarray(a: number, b: number): T }>(
  into: { set(a: ArrayLike<number>, offset: number): void },
  cropped: T,
  shape: readonly number[],
  box: Box,
): void {
  const [, ny, nx] = shape;
  const [, dy, dx] = boxShape(box);
  let o = 0;
  for (let z = box.start[0]; z < box.end[0]; z++) {
    for (let y = box.start[1]; y < box.start[1] + dy; y++) {
      into.set(cropped.subarray(o, o + dx), nx * (y + ny * z) + box.start[2]);
      o += dx;
    }
  }
}

/** Places a cropped [z, y, x] array back into a zero-filled array of the full shape. */
export function uncropArray<T extends ArrayLike<number> & { subarray(a: number, b: number): T }>(
  cropped: T,
  shape: readonly number[],
  box: Box,
  make: (n: number) => T & { set(a: ArrayLike<number>, offset: number): void },
  fill = 0,
): T {
  const [nz, ny, nx] = shape;
  const out = make(nz * ny * nx);
  if (fill !== 0) for (let i = 0; i < nz * ny * nx; i++) (out as unknown as number[])[i] = fill;
  pasteArray(out, cropped, shape, box);
  return out;
}

/** Inclusive voxel bounds in [x, y, z] (see the file comment). */
export interface Bounds {
  min: [number, number, number];
  max: [number, number, number];
}

/** The same region as a Box over the [nz, ny, nx] view of the grid. */
export function boundsToBox(b: Bounds): Box {
  return { start: [b.min[2], b.min[1], b.min[0]], end: [b.max[2] + 1, b.max[1] + 1, b.max[0] + 1] };
}

/** The same region as Bounds over the [nx, ny, nz] view of the grid. */
export function boxToBounds(b: Box): Bounds {
  return { min: [b.start[2], b.start[1], b.start[0]], max: [b.end[2] - 1, b.end[1] - 1, b.end[0] - 1] };
}

/** Inclusive bounds of the non-zero voxels of mask (shape [nx, ny, nz]), or null if there are none. */
export function maskBounds(mask: ArrayLike<number>, shape: readonly number[]): Bounds | null {
  const box = nonzeroBounds([mask], [shape[2], shape[1], shape[0]]);
  return box ? boxToBounds(box) : null;
}

/** The smallest bounds holding both. */
export function unionBounds(a: Bounds, b: Bounds): Bounds {
  return {
    min: [0, 1, 2].map((k) => Math.min(a.min[k], b.min[k])) as Bounds["min"],
    max: [0, 1, 2].map((k) => Math.max(a.max[k], b.max[k])) as Bounds["max"],
  };
}

/** Sets every voxel of the bounds (shape [nx, ny, nz]) to `value`. */
export function fillBounds(
  data: { fill(value: number, start: number, end: number): unknown },
  shape: readonly number[],
  b: Bounds,
  value = 0,
): void {
  const [nx, ny] = shape;
  for (let z = b.min[2]; z <= b.max[2]; z++)
    for (let y = b.min[1]; y <= b.max[1]; y++) {
      const from = b.min[0] + nx * (y + ny * z);
      data.fill(value, from, from + b.max[0] - b.min[0] + 1);
    }
}

/** Bounds of the voxels within `within` where a and b differ (shape [nx, ny, nz]), or null. */
export function changedBounds(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  shape: readonly number[],
  within: Bounds,
): Bounds | null {
  const [nx, ny] = shape;
  const min: Bounds["min"] = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  const max: Bounds["max"] = [-1, -1, -1];
  for (let z = within.min[2]; z <= within.max[2]; z++)
    for (let y = within.min[1]; y <= within.max[1]; y++)
      for (let x = within.min[0]; x <= within.max[0]; x++) {
        const i = x + nx * (y + ny * z);
        if (a[i] === b[i]) continue;
        const p = [x, y, z];
        for (let k = 0; k < 3; k++) {
          if (p[k] < min[k]) min[k] = p[k];
          if (p[k] > max[k]) max[k] = p[k];
        }
      }
  return max[0] < 0 ? null : { min, max };
}
