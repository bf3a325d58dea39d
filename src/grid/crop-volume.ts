// A volume's box as a volume of its own: cropArray's voxels, with the geometry that keeps them in place.
import { ARRAY_OF, type Vec3, Volume, type VoxelArray } from "../io/volume.js";
import { type Bounds, boundsToBox, cropArray } from "./box.js";

/** The voxels within `bounds` (inclusive, [x, y, z]) as a volume of their own, each in its place in space. */
export function cropVolume(volume: Volume, bounds: Bounds): Volume {
  const { shape } = volume;
  if ([0, 1, 2].some((k) => bounds.min[k] < 0 || bounds.min[k] > bounds.max[k] || bounds.max[k] >= shape[k]))
    throw new RangeError(`crop ${bounds.min.join(",")} to ${bounds.max.join(",")} is not inside ${shape.join("×")}`);
  const data = cropArray<VoxelArray>(
    volume.data,
    [shape[2], shape[1], shape[0]],
    boundsToBox(bounds),
    (n) => new ARRAY_OF[volume.type](n),
  );
  const cropped = [0, 1, 2].map((k) => bounds.max[k] - bounds.min[k] + 1) as Vec3;
  return new Volume(data, { ...volume.geometry, shape: cropped, origin: volume.voxelToWorld(bounds.min) });
}
