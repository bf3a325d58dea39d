// Neighbourhood operations on a voxel grid (shape [nx, ny, nz], x fastest): breadth-first spreads
// over 6- or 26-neighbours, balls around a voxel, and the 3×3×3 box mean.
import type { Connectivity } from "./components.js";

/** The neighbour offsets [dx, dy, dz] of a connectivity, without the voxel itself. */
function offsets(connectivity: Connectivity): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let dz = -1; dz <= 1; dz++)
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const d = Math.abs(dx) + Math.abs(dy) + Math.abs(dz);
        if (d === 0 || (connectivity === 6 && d !== 1)) continue;
        out.push([dx, dy, dz]);
      }
  return out;
}

/**
 * Breadth-first spread from queue[0, queued): `from(i, x, y, z)` says whether to spread from voxel i,
 * `enter(j)` marks a neighbour and says whether to queue it. The queue must hold every voxel that can
 * be entered (an Int32Array of the grid's size).
 */
export function spread(
  shape: readonly number[],
  queue: Int32Array,
  queued: number,
  from: (i: number, x: number, y: number, z: number) => boolean,
  enter: (j: number) => boolean,
  connectivity: Connectivity = 6,
): void {
  const [nx, ny, nz] = shape;
  const plane = nx * ny;
  let tail = queued;
  const around = connectivity === 26 ? offsets(26) : null;
  for (let head = 0; head < tail; head++) {
    const i = queue[head];
    const x = i % nx;
    const y = ((i - x) / nx) % ny;
    const z = (i - x - nx * y) / plane;
    if (!from(i, x, y, z)) continue;
    if (around) {
      for (const [dx, dy, dz] of around) {
        const qx = x + dx;
        const qy = y + dy;
        const qz = z + dz;
        if (qx < 0 || qy < 0 || qz < 0 || qx >= nx || qy >= ny || qz >= nz) continue;
        const j = i + dx + nx * dy + plane * dz;
        if (enter(j)) queue[tail++] = j;
      }
      continue;
    }
    if (x > 0 && enter(i - 1)) queue[tail++] = i - 1;
    if (x < nx - 1 && enter(i + 1)) queue[tail++] = i + 1;
    if (y > 0 && enter(i - nx)) queue[tail++] = i - nx;
    if (y < ny - 1 && enter(i + nx)) queue[tail++] = i + nx;
    if (z > 0 && enter(i - plane)) queue[tail++] = i - plane;
    if (z < nz - 1 && enter(i + plane)) queue[tail++] = i + plane;
  }
}

/** Visits the index of every voxel of the grid within `radius` voxels (Euclidean) of p = [x, y, z]. */
export function ball(shape: readonly number[], p: readonly number[], radius: number, visit: (i: number) => void): void {
  const [nx, ny, nz] = shape;
  for (let z = p[2] - radius; z <= p[2] + radius; z++)
    for (let y = p[1] - radius; y <= p[1] + radius; y++)
      for (let x = p[0] - radius; x <= p[0] + radius; x++) {
        if (x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz) continue;
        if ((x - p[0]) ** 2 + (y - p[1]) ** 2 + (z - p[2]) ** 2 > radius * radius) continue;
        visit(x + nx * (y + ny * z));
      }
}

/** The mean over each voxel's 3×3×3 neighbourhood (clamped at the border), as three 3-tap passes. */
export function boxMean3(image: Float32Array, shape: readonly number[]): Float32Array {
  let a = Float32Array.from(image);
  let b = new Float32Array(image.length);
  const strides = [1, shape[0], shape[0] * shape[1]];
  for (let axis = 0; axis < 3; axis++) {
    const stride = strides[axis];
    const n = shape[axis];
    for (let i = 0; i < a.length; i++) {
      const k = Math.floor(i / stride) % n;
      const prev = k > 0 ? a[i - stride] : a[i];
      const next = k < n - 1 ? a[i + stride] : a[i];
      b[i] = (prev + a[i] + next) / 3;
    }
    [a, b] = [b, a];
  }
  return a;
}
