// Conforming a volume to a model's grid (orientation, spacing, size) and mapping results back.
// For images already at the model's spacing this is an exact permutation/flip plus padding, so the
// way back reproduces the input grid voxel for voxel; other spacings are resampled (linear there,
// nearest neighbour back, both through world coordinates).
import { resampleNearestToGrid } from "./grid.js";
import { ARRAY_OF, type Geometry, type Vec3, Volume, reorient } from "./volume.js";

export interface ConformSpec {
  orientation: string;
  spacing: number;
  size: number[];
}

/** Pads (or crops) each axis to `size`, centred; returns the new volume and the offsets used. */
export function padTo(volume: Volume, size: readonly number[], fill = 0): { volume: Volume; offset: number[] } {
  const offset = volume.shape.map((n, a) => Math.floor((size[a] - n) / 2));
  const [nx, ny, nz] = size;
  const out = new ARRAY_OF[volume.type](nx * ny * nz);
  if (fill !== 0) out.fill(fill);
  const [sx, sy, sz] = volume.shape;
  for (let k = 0; k < nz; k++) {
    const zk = k - offset[2];
    if (zk < 0 || zk >= sz) continue;
    for (let j = 0; j < ny; j++) {
      const yj = j - offset[1];
      if (yj < 0 || yj >= sy) continue;
      const i0 = Math.max(0, offset[0]);
      const i1 = Math.min(nx, offset[0] + sx);
      if (i1 <= i0) continue;
      const src = volume.index(i0 - offset[0], yj, zk);
      out.set(volume.data.subarray(src, src + (i1 - i0)), i0 + nx * (j + ny * k));
    }
  }
  const origin = volume.voxelToWorld(offset.map((o) => -o));
  return { volume: new Volume(out, { ...volume.geometry, shape: [...size] as Vec3, origin }), offset };
}

export interface Conformed {
  volume: Volume;
  /** Maps a label volume on the conformed grid back onto the input's exact grid. */
  back(labels: Volume): Volume;
}

export async function conform(
  volume: Volume,
  spec: ConformSpec,
  resampleLinear: (v: Volume, spacing: number) => Volume,
): Promise<Conformed> {
  const oriented = reorient(volume, spec.orientation);
  const sameSpacing = oriented.spacing.every((s) => Math.abs(s - spec.spacing) < 1e-3);
  const resampled = sameSpacing ? oriented : resampleLinear(oriented, spec.spacing);
  const { volume: padded } = padTo(resampled, spec.size);
  const originalGeometry: Geometry = volume.geometry;
  return {
    volume: padded,
    back(labels: Volume): Volume {
      // Undo the padding: pad the other way to the oriented (resampled) grid, then undo the resampling and orientation.
      const unpadded = resampleNearestToGrid(labels, resampled.geometry);
      const onOriented = sameSpacing ? unpadded : resampleNearestToGrid(unpadded, oriented.geometry);
      const back = reorient(onOriented, volume.orientation());
      return new Volume(back.data, originalGeometry);
    },
  };
}
