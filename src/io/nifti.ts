// NIfTI-1 (.nii, .nii.gz): our own reader and writer, the fast path for the commonest format.
// Geometry follows nibabel: sform if sform_code > 0, else qform if qform_code > 0, else pixdim.
import { kMaxLength } from "node:buffer";
import { gunzipSync, gzipSync, constants as zlibConstants } from "node:zlib";
import { writeFileAtomicSync } from "../util/atomic.js";
import {
  ARRAY_OF,
  type Geometry,
  type Mat4,
  type Vec3,
  Volume,
  type VoxelArray,
  type VoxelType,
  geometryAffine,
  geometryFromAffine,
} from "./volume.js";

const HEADER_SIZE = 348;

const DATATYPES: Record<number, VoxelType> = {
  2: "uint8",
  4: "int16",
  8: "int32",
  16: "float32",
  64: "float64",
  256: "int8",
  512: "uint16",
  768: "uint32",
};
const CODE_OF: Record<VoxelType, number> = Object.fromEntries(
  Object.entries(DATATYPES).map(([k, v]) => [v, Number(k)]),
) as Record<VoxelType, number>;

export class ImageFormatError extends Error {}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Bytes a decompressed image may hold beyond what its header declares (some writers append a few). */
export const TRAILING_MARGIN = 64 * 1024;

function gunzipError(source: string, error: unknown): ImageFormatError {
  return new ImageFormatError(`${source}: corrupt or truncated gzip stream (${(error as Error).message})`);
}

/**
 * The first `size` bytes of a gzip stream (fewer if it is shorter), inflating only a prefix of the
 * compressed bytes: the header of an image is read without inflating its voxels.
 */
export function gunzipPrefix(bytes: Uint8Array, source: string, size: number): Uint8Array {
  if (!isGzip(bytes)) return bytes.subarray(0, size);
  for (let take = 4096; ; take *= 16) {
    let out: Uint8Array;
    try {
      // A truncated prefix inflates to what it holds (sync flush: no "unexpected end" error).
      out = gunzipSync(bytes.subarray(0, take), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (error) {
      throw gunzipError(source, error);
    }
    if (out.length >= size) return out.subarray(0, size);
    if (take >= bytes.length) {
      // Short: a truncated stream says so (not "too few bytes for a header").
      try {
        gunzipSync(bytes);
      } catch (error) {
        throw gunzipError(source, error);
      }
      return out;
    }
  }
}

/**
 * Inflates a gzip stream, but never past `limit` bytes: a file that decompresses to more than its
 * header declares (trailing data, a gzip bomb) is refused before it can take the memory.
 */
export function gunzipBounded(bytes: Uint8Array, source: string, limit: number, declared: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: Math.min(limit, kMaxLength) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE")
      throw new ImageFormatError(
        `${source}: decompresses to more than ${limit} bytes, but its header declares ${declared}: trailing data after the voxels (or a gzip bomb); refused`,
      );
    throw gunzipError(source, error);
  }
}

/** Refuses voxel data larger than a Node buffer can hold, before anything is inflated or allocated. */
export function checkDataSize(source: string, shape: readonly number[], type: string, bytes: number): void {
  if (bytes > kMaxLength)
    throw new ImageFormatError(
      `${source}: ${shape.join("×")} ${type} needs ${bytes} bytes, more than one image may hold (${kMaxLength})`,
    );
}

export function maybeGunzip(bytes: Uint8Array, source: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (error) {
    throw gunzipError(source, error);
  }
}

function quaternToAffine(v: DataView, le: boolean, pixdim: number[]): Mat4 {
  const b = v.getFloat32(256, le);
  const c = v.getFloat32(260, le);
  const d = v.getFloat32(264, le);
  const a2 = 1 - (b * b + c * c + d * d);
  const a = a2 < 1e-7 ? 0 : Math.sqrt(a2);
  const qfac = pixdim[0] < 0 ? -1 : 1;
  const r = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const scale = [pixdim[1], pixdim[2], pixdim[3] * qfac];
  const offset = [v.getFloat32(268, le), v.getFloat32(272, le), v.getFloat32(276, le)];
  return [0, 1, 2]
    .flatMap((row) => [...[0, 1, 2].map((col) => r[row][col] * scale[col]), offset[row]])
    .concat([0, 0, 0, 1]);
}

/** Parses NIfTI-1 bytes (gzip-compressed or not). source names the file in errors. */
export function decodeNifti(fileBytes: Uint8Array, source: string): Volume {
  // The header first (inflating only a prefix), so the voxels are inflated no further than it declares.
  const head = gunzipPrefix(fileBytes, source, HEADER_SIZE);
  if (head.length < HEADER_SIZE)
    throw new ImageFormatError(`${source}: only ${head.length} bytes, a NIfTI header needs ${HEADER_SIZE}`);
  const h = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let le = true;
  const sizeLe = h.getInt32(0, true);
  if (sizeLe !== HEADER_SIZE) {
    if (h.getInt32(0, false) === HEADER_SIZE) le = false;
    else if (sizeLe === 540 || h.getInt32(0, false) === 540)
      throw new ImageFormatError(`${source}: NIfTI-2 files are not supported yet`);
    else throw new ImageFormatError(`${source}: header size ${sizeLe} is not 348: not a NIfTI-1 file`);
  }
  const magic = String.fromCharCode(head[344], head[345], head[346]);
  if (magic !== "n+1" && magic !== "ni1")
    throw new ImageFormatError(`${source}: magic '${magic}' is not NIfTI-1 ('n+1')`);
  if (magic === "ni1") throw new ImageFormatError(`${source}: two-file NIfTI (.hdr/.img) is not supported`);
  const ndim = h.getInt16(40, le);
  const dims = [1, 2, 3, 4, 5, 6, 7].map((i) => h.getInt16(40 + 2 * i, le));
  if (ndim < 1 || ndim > 7) throw new ImageFormatError(`${source}: dim[0] = ${ndim} is not 1–7`);
  const bad = dims.slice(0, ndim).findIndex((d) => d < 1);
  if (bad >= 0)
    throw new ImageFormatError(
      `${source}: dim[${bad + 1}] = ${dims[bad]}: every image dimension must be at least 1 (${dims.slice(0, ndim).join("×")})`,
    );
  const extra = dims.slice(3, ndim).filter((d) => d > 1);
  if (extra.length > 0)
    throw new ImageFormatError(
      `${source}: ${ndim}-D image (${dims.slice(0, ndim).join("×")}); only 3-D volumes are supported`,
    );
  const shape = [0, 1, 2].map((i) => (i < ndim ? dims[i] : 1)) as Vec3;
  const datatype = h.getInt16(70, le);
  const type = DATATYPES[datatype];
  if (!type) throw new ImageFormatError(`${source}: NIfTI datatype ${datatype} is not supported`);
  const voxOffset = h.getFloat32(108, le);
  if (!(voxOffset >= HEADER_SIZE) || !Number.isInteger(voxOffset)) {
    throw new ImageFormatError(`${source}: vox_offset ${voxOffset} is invalid (must be an integer ≥ ${HEADER_SIZE})`);
  }
  const count = shape[0] * shape[1] * shape[2];
  const itemSize = new ARRAY_OF[type](0).BYTES_PER_ELEMENT;
  checkDataSize(source, shape, type, count * itemSize);
  const needed = voxOffset + count * itemSize;
  const bytes = gunzipBounded(
    fileBytes,
    source,
    needed + TRAILING_MARGIN,
    `${needed} (${shape.join("×")} ${type} after vox_offset ${voxOffset})`,
  );
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pixdim = [0, 1, 2, 3].map((i) => v.getFloat32(76 + 4 * i, le));
  if (needed > bytes.length) {
    throw new ImageFormatError(
      `${source}: data is truncated: ${bytes.length - voxOffset} bytes after vox_offset ${voxOffset}, ${shape.join("×")} ${type} needs ${count * itemSize}`,
    );
  }
  if (bytes.length > needed + TRAILING_MARGIN)
    throw new ImageFormatError(
      `${source}: ${bytes.length - needed} bytes of trailing data after the ${shape.join("×")} ${type} voxels the header declares; refused`,
    );
  const raw = new Uint8Array(bytes.subarray(voxOffset, needed)); // a copy (Buffer.slice would be a view)
  if (!le && itemSize > 1) {
    for (let i = 0; i < raw.length; i += itemSize) raw.subarray(i, i + itemSize).reverse();
  }
  let data: VoxelArray = new ARRAY_OF[type](raw.buffer);
  const slope = v.getFloat32(112, le);
  const inter = v.getFloat32(116, le);
  if (Number.isFinite(slope) && slope !== 0 && (slope !== 1 || (Number.isFinite(inter) && inter !== 0))) {
    const scaled = new Float32Array(data.length);
    const b = Number.isFinite(inter) ? inter : 0;
    for (let i = 0; i < data.length; i++) scaled[i] = data[i] * slope + b;
    data = scaled;
  }
  const sformCode = v.getInt16(254, le);
  const qformCode = v.getInt16(252, le);
  let affine: Mat4;
  if (sformCode > 0) {
    affine = [280, 296, 312].flatMap((o) => [0, 1, 2, 3].map((i) => v.getFloat32(o + 4 * i, le))).concat([0, 0, 0, 1]);
  } else if (qformCode > 0) {
    affine = quaternToAffine(v, le, pixdim);
  } else {
    // nibabel's fallback for no transform: x flipped, centred on the volume.
    const s = [pixdim[1] || 1, pixdim[2] || 1, pixdim[3] || 1];
    affine = [
      -s[0],
      0,
      0,
      ((shape[0] - 1) / 2) * s[0],
      0,
      s[1],
      0,
      -((shape[1] - 1) / 2) * s[1],
      0,
      0,
      s[2],
      -((shape[2] - 1) / 2) * s[2],
      0,
      0,
      0,
      1,
    ];
  }
  return new Volume(data, geometryFromAffine(affine, shape, true));
}

function affineToQuaternion(g: Geometry): { b: number; c: number; d: number; qfac: number } {
  // Rotation part (columns = axis directions in RAS); a negative determinant goes into qfac.
  const m = [0, 1, 2].map((r) => [0, 1, 2].map((c) => (r < 2 ? -1 : 1) * g.direction[3 * r + c]));
  const det =
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  const qfac = det < 0 ? -1 : 1;
  if (qfac < 0) for (let r = 0; r < 3; r++) m[r][2] = -m[r][2];
  const [r11, r12, r13] = m[0];
  const [r21, r22, r23] = m[1];
  const [r31, r32, r33] = m[2];
  let a = r11 + r22 + r33 + 1;
  let b: number;
  let c: number;
  let d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qfac };
}

/** Serialises a volume as NIfTI-1 (sform and qform both set, units mm), gzip-compressed if asked. */
export function encodeNifti(volume: Volume, gzip: boolean): Uint8Array {
  const voxOffset = 352;
  const data = volume.data;
  const header = new ArrayBuffer(voxOffset);
  const v = new DataView(header);
  v.setInt32(0, HEADER_SIZE, true);
  v.setInt16(40, 3, true);
  volume.shape.forEach((n, i) => v.setInt16(42 + 2 * i, n, true));
  for (let i = 4; i <= 7; i++) v.setInt16(40 + 2 * i, 1, true);
  v.setInt16(70, CODE_OF[volume.type], true);
  v.setInt16(72, data.BYTES_PER_ELEMENT * 8, true);
  const q = affineToQuaternion(volume);
  v.setFloat32(76, q.qfac, true);
  volume.spacing.forEach((s, i) => v.setFloat32(80 + 4 * i, s, true));
  v.setFloat32(108, voxOffset, true);
  v.setFloat32(112, 1, true);
  v.setUint8(123, 2 | 8); // mm, seconds
  v.setInt16(252, 1, true); // qform: scanner
  v.setInt16(254, 1, true); // sform: scanner
  v.setFloat32(256, q.b, true);
  v.setFloat32(260, q.c, true);
  v.setFloat32(264, q.d, true);
  const affine = geometryAffine(volume, true);
  v.setFloat32(268, affine[3], true);
  v.setFloat32(272, affine[7], true);
  v.setFloat32(276, affine[11], true);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) v.setFloat32(280 + 16 * r + 4 * c, affine[4 * r + c], true);
  new Uint8Array(header).set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const bytes = new Uint8Array(voxOffset + body.length);
  bytes.set(new Uint8Array(header), 0);
  bytes.set(body, voxOffset);
  return gzip ? gzipSync(bytes, { level: 4 }) : bytes;
}

export function writeNifti(file: string, volume: Volume): void {
  writeFileAtomicSync(file, encodeNifti(volume, file.endsWith(".gz")));
}
