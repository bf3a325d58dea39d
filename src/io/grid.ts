// Resampling one volume onto another volume's grid through world coordinates (nearest neighbour),
// for label maps that live on a different grid (atlases, FreeSurfer's conformed space, …).
import { ARRAY_OF, type Geometry, Volume, geometryDifference, invert3 } from "./volume.js";

/** True when two grids are the same within tolerances (mm for spacing/origin). */
export function sameGrid(a: Geometry, b: Geometry, mm = 1e-3, direction = 1e-4): boolean {
  const d = geometryDifference(a, b);
  return d.shape && d.spacing <= mm && d.origin <= mm && d.direction <= direction;
}

/** Nearest-neighbour resampling of `source` onto `target`'s grid; voxels outside the source get `fill`. */
export function resampleNearestToGrid(source: Volume, target: Geometry, fill = 0): Volume {
  if (sameGrid(source, target)) return new Volume(source.data, target);
  // target voxel → world → source voxel, as one affine map: M = S_src⁻¹ D_src⁻¹ (D_t S_t), t = S_src⁻¹ D_src⁻¹ (o_t − o_src).
  const inv = invert3(source.direction);
  const m: number[] = [];
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let k = 0; k < 3; k++) v += inv[3 * r + k] * target.direction[3 * k + c] * target.spacing[c];
      m.push(v / source.spacing[r]);
    }
  }
  const t = [0, 1, 2].map((r) => {
    let v = 0;
    for (let k = 0; k < 3; k++) v += inv[3 * r + k] * (target.origin[k] - source.origin[k]);
    return v / source.spacing[r];
  });
  const [nx, ny, nz] = target.shape;
  const [sx, sy, sz] = source.shape;
  const out = new ARRAY_OF[source.type](nx * ny * nz);
  if (fill !== 0) out.fill(fill);
  let p = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const bx = t[0] + m[1] * j + m[2] * k;
      const by = t[1] + m[4] * j + m[5] * k;
      const bz = t[2] + m[7] * j + m[8] * k;
      for (let i = 0; i < nx; i++, p++) {
        const x = Math.round(bx + m[0] * i);
        const y = Math.round(by + m[3] * i);
        const z = Math.round(bz + m[6] * i);
        if (x < 0 || y < 0 || z < 0 || x >= sx || y >= sy || z >= sz) continue;
        out[p] = source.data[x + sx * (y + sy * z)];
      }
    }
  }
  return new Volume(out, target);
}
