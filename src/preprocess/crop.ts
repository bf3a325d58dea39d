// Cropping to the non-zero region (nnU-Net's "crop to nonzero"): the bounding box of voxels that
// are non-zero in any channel. Boxes are [z, y, x] start (inclusive) and end (exclusive).

export interface Box {
  start: [number, number, number];
  end: [number, number, number];
}

/** Bounding box of the non-zero voxels of any array (each [z, y, x] of `shape`); the whole volume if all are zero. */
export function nonzeroBox(arrays: readonly ArrayLike<number>[], shape: readonly number[]): Box {
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
  if (hi[0] < 0) return { start: [0, 0, 0], end: [nz, ny, nx] };
  return { start: lo as Box["start"], end: hi.map((h) => h + 1) as Box["end"] };
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
  const [, dy, dx] = boxShape(box);
  let o = 0;
  for (let z = box.start[0]; z < box.end[0]; z++) {
    for (let y = box.start[1]; y < box.start[1] + dy; y++) {
      out.set(cropped.subarray(o, o + dx), nx * (y + ny * z) + box.start[2]);
      o += dx;
    }
  }
  return out;
}
