// FreeSurfer MGH/MGZ: big-endian header, x-fastest voxels, RAS geometry from the centre voxel.
// A multi-frame file (nframes > 1) is a list of 3-D frames sharing one geometry.
import { ImageFormatError, checkDataSize, checkTrailing, gunzipBounded, gunzipPrefix } from "./errors.js";
import { type Mat4, type Vec3, Volume, type VoxelArray, type VoxelType, geometryFromAffine } from "./volume.js";

const DATA_OFFSET = 284;
const TYPES: Record<number, VoxelType> = { 0: "uint8", 1: "int32", 3: "float32", 4: "int16" };

/** What an MGH file may hold after its voxels (scan parameters, tags such as the command history). */
const MGH_TRAILER_LIMIT = 1 << 20;

/**
 * Parses MGH/MGZ bytes into its frames (one for a 3-D volume), all with the same geometry. The header
 * is read first, so the voxels are inflated no further than it declares for all frames (+ at most
 * MGH_TRAILER_LIMIT bytes of tags): trailing data and gzip bombs are refused, as are dimensions below 1 (#15).
 */
export function decodeMghFrames(fileBytes: Uint8Array, source: string): Volume[] {
  const head = gunzipPrefix(fileBytes, source, DATA_OFFSET);
  if (head.length < DATA_OFFSET)
    throw new ImageFormatError(`${source}: only ${head.length} bytes, an MGH header needs ${DATA_OFFSET}`);
  const h = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const version = h.getInt32(0);
  if (version !== 1) throw new ImageFormatError(`${source}: MGH version ${version} is not 1`);
  const shape = [h.getInt32(4), h.getInt32(8), h.getInt32(12)] as Vec3;
  if (shape.some((d) => d < 1))
    throw new ImageFormatError(`${source}: dimensions ${shape.join("×")}: every dimension must be at least 1`);
  const frames = h.getInt32(16);
  const type = TYPES[h.getInt32(20)];
  if (!type) throw new ImageFormatError(`${source}: MGH data type ${h.getInt32(20)} is not supported`);
  if (!(frames >= 1)) throw new ImageFormatError(`${source}: MGH nframes ${frames} is not ≥ 1`);
  const described = frames > 1 ? `${shape.join("×")}×${frames}` : shape.join("×");
  const ctor = { uint8: Uint8Array, int32: Int32Array, float32: Float32Array, int16: Int16Array }[type as "uint8"];
  const itemSize = ctor.BYTES_PER_ELEMENT;
  const frameBytes = shape[0] * shape[1] * shape[2] * itemSize;
  const dataBytes = frames * frameBytes;
  checkDataSize(source, frames > 1 ? [...shape, frames] : shape, type, dataBytes, DATA_OFFSET);
  const needed = DATA_OFFSET + dataBytes;
  const bytes = gunzipBounded(
    fileBytes,
    source,
    needed + MGH_TRAILER_LIMIT,
    `${needed} (${described} ${type}) plus at most ${MGH_TRAILER_LIMIT} bytes of tags`,
  );
  if (needed > bytes.length) {
    throw new ImageFormatError(
      `${source}: data is truncated: ${bytes.length - DATA_OFFSET} bytes, ${described} ${type} needs ${dataBytes}`,
    );
  }
  checkTrailing(source, bytes.length, needed, MGH_TRAILER_LIMIT, `${described} ${type} voxels (and tags)`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const goodRas = v.getInt16(28) === 1;
  let spacing = [1, 1, 1];
  // Columns: directions of the x, y, z voxel axes in RAS; FreeSurfer's conformed LIA when unset.
  let mdc = [
    [-1, 0, 0],
    [0, 0, -1],
    [0, 1, 0],
  ];
  let centre = [0, 0, 0];
  if (goodRas) {
    spacing = [30, 34, 38].map((o) => v.getFloat32(o));
    mdc = [0, 1, 2].map((axis) => [0, 1, 2].map((r) => v.getFloat32(42 + 12 * axis + 4 * r)));
    centre = [0, 1, 2].map((r) => v.getFloat32(78 + 4 * r));
  }
  const affine: Mat4 = [];
  for (let r = 0; r < 3; r++) {
    const row = [0, 1, 2].map((axis) => mdc[axis][r] * spacing[axis]);
    const origin = centre[r] - row.reduce((sum, m, axis) => sum + m * (shape[axis] / 2), 0);
    affine.push(...row, origin);
  }
  affine.push(0, 0, 0, 1);
  const geometry = geometryFromAffine(affine, shape, true);
  const out: Volume[] = [];
  for (let f = 0; f < frames; f++) {
    const start = DATA_OFFSET + f * frameBytes;
    const raw = new Uint8Array(bytes.subarray(start, start + frameBytes));
    if (itemSize > 1) for (let i = 0; i < raw.length; i += itemSize) raw.subarray(i, i + itemSize).reverse();
    out.push(new Volume(new ctor(raw.buffer) as VoxelArray, geometry));
  }
  return out;
}

/** Parses a single-frame MGH/MGZ volume. */
export function decodeMgh(fileBytes: Uint8Array, source: string): Volume {
  const frames = decodeMghFrames(fileBytes, source);
  if (frames.length !== 1) {
    throw new ImageFormatError(
      `${source}: ${frames.length} frames; only 3-D volumes are supported here: read its frames with readChannels`,
    );
  }
  return frames[0];
}
