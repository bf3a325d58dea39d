// Exact Euclidean distance transform with anisotropic spacing (Felzenszwalb & Huttenlocher's
// lower-envelope algorithm, one axis at a time). Used for "within a margin of a lesion" rules and
// for surface distances in evaluation.

function transform1d(f: Float64Array, n: number, w: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  // d[q] = min_p (w·(q − p))² + f[p]
  let k = 0;
  v[0] = 0;
  z[0] = Number.NEGATIVE_INFINITY;
  z[1] = Number.POSITIVE_INFINITY;
  const w2 = w * w;
  for (let q = 1; q < n; q++) {
    if (f[q] === Number.POSITIVE_INFINITY) continue;
    if (f[v[k]] === Number.POSITIVE_INFINITY) {
      v[k] = q;
      continue;
    }
    let s = (f[q] + w2 * q * q - (f[v[k]] + w2 * v[k] * v[k])) / (2 * w2 * (q - v[k]));
    while (s <= z[k]) {
      k--;
      s = (f[q] + w2 * q * q - (f[v[k]] + w2 * v[k] * v[k])) / (2 * w2 * (q - v[k]));
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Number.POSITIVE_INFINITY;
  }
  if (f[v[0]] === Number.POSITIVE_INFINITY) {
    d.fill(Number.POSITIVE_INFINITY, 0, n);
    return;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    d[q] = w2 * (q - v[k]) ** 2 + f[v[k]];
  }
}

/**
 * Squared distance (mm²) from every voxel to the nearest non-zero voxel of mask
 * (shape [nx, ny, nz], x fastest; spacing [sx, sy, sz]). Infinity everywhere for an empty mask.
 */
export function squaredDistanceToMask(
  mask: ArrayLike<number>,
  shape: readonly number[],
  spacing: readonly number[],
): Float64Array {
  const [nx, ny, nz] = shape;
  const out = new Float64Array(nx * ny * nz);
  for (let i = 0; i < out.length; i++) out[i] = mask[i] ? 0 : Number.POSITIVE_INFINITY;
  const n = Math.max(nx, ny, nz);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const strides = [1, nx, nx * ny];
  for (let axis = 0; axis < 3; axis++) {
    const len = shape[axis];
    const stride = strides[axis];
    const others = [0, 1, 2].filter((a) => a !== axis);
    for (let b = 0; b < shape[others[1]]; b++) {
      for (let a = 0; a < shape[others[0]]; a++) {
        const base = a * strides[others[0]] + b * strides[others[1]];
        for (let q = 0; q < len; q++) f[q] = out[base + q * stride];
        transform1d(f, len, spacing[axis], d, v, z);
        for (let q = 0; q < len; q++) out[base + q * stride] = d[q];
      }
    }
  }
  return out;
}

/** Voxels within `mm` millimetres of the mask (the mask itself included). */
export function dilateMm(
  mask: ArrayLike<number>,
  shape: readonly number[],
  spacing: readonly number[],
  mm: number,
): Uint8Array {
  const d = squaredDistanceToMask(mask, shape, spacing);
  const out = new Uint8Array(d.length);
  const limit = mm * mm + 1e-9;
  for (let i = 0; i < d.length; i++) out[i] = d[i] <= limit ? 1 : 0;
  return out;
}
