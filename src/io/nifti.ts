// NIfTI-1 and NIfTI-2 (.nii, .nii.gz): our own reader and writer, the fast path for the commonest format.
// Geometry follows nibabel: sform if sform_code > 0, else qform if qform_code > 0, else pixdim.
// A 4-D (or higher) image is a list of 3-D frames sharing one geometry (decodeNiftiFrames): the
// Medical Segmentation Decathlon stores a case's modalities that way, fMRI stores time points.
import { gzipSync } from "node:zlib";
import { writeFileAtomicSync } from "../util/atomic.js";
import {
  ImageFormatError,
  TRAILING_MARGIN,
  checkDataSize,
  checkTrailing,
  gunzipBounded,
  gunzipPrefix,
  maybeGunzip,
} from "./errors.js";
import { NIFTI2_HEADER_SIZE, encodeNifti2Header, parseNifti2Header } from "./nifti2.js";
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

export { ImageFormatError, maybeGunzip };

const HEADER_SIZE = 348;
/** NIfTI-1 stores dims as int16: larger images are written as NIfTI-2. */
const NIFTI1_MAX_DIM = 32767;

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

/** The header fields we use, the same for NIfTI-1 and NIfTI-2 (which differ in offsets and widths). */
export interface NiftiHeader {
  version: 1 | 2;
  /** Byte order of the file. */
  le: boolean;
  datatype: number;
  /** dim[0..7]: dim[0] is the number of dimensions. */
  dims: number[];
  /** pixdim[0..7]: pixdim[0] is qfac. */
  pixdim: number[];
  voxOffset: number;
  slope: number;
  inter: number;
  qformCode: number;
  sformCode: number;
  /** quatern_b, quatern_c, quatern_d. */
  quatern: number[];
  /** qoffset_x, qoffset_y, qoffset_z. */
  qoffset: number[];
  /** srow_x, srow_y, srow_z (row-major 3×4). */
  srow: number[];
}

function parseNifti1Header(bytes: Uint8Array, le: boolean, source: string): NiftiHeader {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = String.fromCharCode(bytes[344], bytes[345], bytes[346]);
  if (magic !== "n+1" && magic !== "ni1")
    throw new ImageFormatError(`${source}: magic '${magic}' is not NIfTI-1 ('n+1')`);
  if (magic === "ni1") throw new ImageFormatError(`${source}: two-file NIfTI (.hdr/.img) is not supported`);
  const f32 = (o: number) => v.getFloat32(o, le);
  return {
    version: 1,
    le,
    datatype: v.getInt16(70, le),
    dims: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => v.getInt16(40 + 2 * i, le)),
    pixdim: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => f32(76 + 4 * i)),
    voxOffset: f32(108),
    slope: f32(112),
    inter: f32(116),
    qformCode: v.getInt16(252, le),
    sformCode: v.getInt16(254, le),
    quatern: [f32(256), f32(260), f32(264)],
    qoffset: [f32(268), f32(272), f32(276)],
    srow: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => f32(280 + 4 * i)),
  };
}

/** Reads the header of NIfTI-1 or NIfTI-2 bytes (already decompressed), either byte order. */
export function parseNiftiHeader(bytes: Uint8Array, source: string): NiftiHeader {
  if (bytes.length < HEADER_SIZE)
    throw new ImageFormatError(`${source}: only ${bytes.length} bytes, a NIfTI header needs ${HEADER_SIZE}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sizeLe = v.getInt32(0, true);
  const sizeBe = v.getInt32(0, false);
  if (sizeLe === HEADER_SIZE || sizeBe === HEADER_SIZE) return parseNifti1Header(bytes, sizeLe === HEADER_SIZE, source);
  if (sizeLe === NIFTI2_HEADER_SIZE || sizeBe === NIFTI2_HEADER_SIZE)
    return parseNifti2Header(bytes, sizeLe === NIFTI2_HEADER_SIZE, source);
  throw new ImageFormatError(`${source}: header size ${sizeLe} is not 348: not a NIfTI-1 file (nor NIfTI-2: 540)`);
}

function quaternToAffine(h: NiftiHeader): Mat4 {
  const [b, c, d] = h.quatern;
  const a2 = 1 - (b * b + c * c + d * d);
  const a = a2 < 1e-7 ? 0 : Math.sqrt(a2);
  const qfac = h.pixdim[0] < 0 ? -1 : 1;
  const r = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const scale = [h.pixdim[1], h.pixdim[2], h.pixdim[3] * qfac];
  return [0, 1, 2]
    .flatMap((row) => [...[0, 1, 2].map((col) => r[row][col] * scale[col]), h.qoffset[row]])
    .concat([0, 0, 0, 1]);
}

/** nibabel's best affine (RAS): sform, else qform, else x flipped and centred on the volume. */
function headerAffine(h: NiftiHeader, shape: Vec3): Mat4 {
  if (h.sformCode > 0) return [...h.srow, 0, 0, 0, 1];
  if (h.qformCode > 0) return quaternToAffine(h);
  const s = [h.pixdim[1] || 1, h.pixdim[2] || 1, h.pixdim[3] || 1];
  // biome-ignore format: a 4×4 matrix
  return [
    -s[0], 0, 0, ((shape[0] - 1) / 2) * s[0],
    0, s[1], 0, -((shape[1] - 1) / 2) * s[1],
    0, 0, s[2], -((shape[2] - 1) / 2) * s[2],
    0, 0, 0, 1,
  ];
}

/**
 * Parses NIfTI-1 or NIfTI-2 bytes (gzip-compressed or not) into its 3-D frames: one for a 3-D image,
 * dim[4]·dim[5]·… for a 4-D or higher one (frames in file order), all with the same geometry.
 * source names the file in errors. The header is read first (inflating only a prefix), so the voxels
 * are inflated no further than it declares for all frames (+ TRAILING_MARGIN): trailing data and gzip
 * bombs are refused, as are dimensions below 1 (#15).
 */
export function decodeNiftiFrames(fileBytes: Uint8Array, source: string): Volume[] {
  // NIfTI-2's header is the longer; a short NIfTI-1 file gives fewer bytes, which is fine.
  const h = parseNiftiHeader(gunzipPrefix(fileBytes, source, NIFTI2_HEADER_SIZE), source);
  const headerSize = h.version === 1 ? HEADER_SIZE : NIFTI2_HEADER_SIZE;
  const ndim = h.dims[0];
  if (ndim < 1 || ndim > 7) throw new ImageFormatError(`${source}: dim[0] = ${ndim} is not 1–7`);
  const dims = h.dims.slice(1, ndim + 1);
  const bad = dims.findIndex((d) => d < 1);
  if (bad >= 0)
    throw new ImageFormatError(
      `${source}: dim[${bad + 1}] = ${dims[bad]}: every image dimension must be at least 1 (${dims.join("×")})`,
    );
  const shape = [0, 1, 2].map((i) => (i < ndim ? dims[i] : 1)) as Vec3;
  const frames = dims.slice(3).reduce((p, d) => p * d, 1);
  const described = frames > 1 ? [...shape, ...dims.slice(3)] : shape;
  const type = DATATYPES[h.datatype];
  if (!type) throw new ImageFormatError(`${source}: NIfTI datatype ${h.datatype} is not supported`);
  const voxOffset = h.voxOffset;
  if (!(voxOffset >= headerSize) || !Number.isInteger(voxOffset)) {
    throw new ImageFormatError(`${source}: vox_offset ${voxOffset} is invalid (must be an integer ≥ ${headerSize})`);
  }
  const count = shape[0] * shape[1] * shape[2];
  const itemSize = new ARRAY_OF[type](0).BYTES_PER_ELEMENT;
  const dataBytes = frames * count * itemSize;
  checkDataSize(source, described, type, dataBytes, voxOffset);
  const needed = voxOffset + dataBytes;
  const bytes = gunzipBounded(
    fileBytes,
    source,
    needed + TRAILING_MARGIN,
    `${needed} (${described.join("×")} ${type} after vox_offset ${voxOffset})`,
  );
  if (needed > bytes.length) {
    throw new ImageFormatError(
      `${source}: data is truncated: ${bytes.length - voxOffset} bytes after vox_offset ${voxOffset}, ${described.join("×")} ${type} needs ${dataBytes}`,
    );
  }
  checkTrailing(source, bytes.length, needed, TRAILING_MARGIN, `${described.join("×")} ${type} voxels`);
  const geometry = geometryFromAffine(headerAffine(h, shape), shape, true);
  const { slope, inter } = h;
  const scale = Number.isFinite(slope) && slope !== 0 && (slope !== 1 || (Number.isFinite(inter) && inter !== 0));
  const out: Volume[] = [];
  for (let f = 0; f < frames; f++) {
    const start = voxOffset + f * count * itemSize;
    const raw = new Uint8Array(bytes.subarray(start, start + count * itemSize)); // a copy (Buffer.slice would be a view)
    if (!h.le && itemSize > 1) {
      for (let i = 0; i < raw.length; i += itemSize) raw.subarray(i, i + itemSize).reverse();
    }
    let data: VoxelArray = new ARRAY_OF[type](raw.buffer);
    if (scale) {
      const scaled = new Float32Array(data.length);
      const b = Number.isFinite(inter) ? inter : 0;
      for (let i = 0; i < data.length; i++) scaled[i] = data[i] * slope + b;
      data = scaled;
    }
    out.push(new Volume(data, geometry));
  }
  return out;
}

/** Parses a 3-D NIfTI-1 or NIfTI-2 image (gzip-compressed or not). source names the file in errors. */
export function decodeNifti(fileBytes: Uint8Array, source: string): Volume {
  const frames = decodeNiftiFrames(fileBytes, source);
  if (frames.length !== 1) {
    throw new ImageFormatError(
      `${source}: ${frames.length} frames (a 4-D image, ${frames[0].shape.join("×")}×${frames.length}); only 3-D volumes are supported here: read its frames with readChannels, or convert a Decathlon task with \`backsplit dataset import-msd\``,
    );
  }
  return frames[0];
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

export interface NiftiWriteOptions {
  /** 1 (default when every dim fits in int16), or 2 (always used when one does not). */
  version?: 1 | 2;
}

function encodeNifti1Header(h: NiftiHeader, bitpix: number): Uint8Array {
  const bytes = new Uint8Array(h.voxOffset);
  const v = new DataView(bytes.buffer);
  v.setInt32(0, HEADER_SIZE, true);
  h.dims.forEach((d, i) => v.setInt16(40 + 2 * i, d, true));
  v.setInt16(70, h.datatype, true);
  v.setInt16(72, bitpix, true);
  h.pixdim.forEach((p, i) => v.setFloat32(76 + 4 * i, p, true));
  v.setFloat32(108, h.voxOffset, true);
  v.setFloat32(112, h.slope, true);
  v.setFloat32(116, h.inter, true);
  v.setUint8(123, 2 | 8); // mm, seconds
  v.setInt16(252, h.qformCode, true);
  v.setInt16(254, h.sformCode, true);
  h.quatern.forEach((q, i) => v.setFloat32(256 + 4 * i, q, true));
  h.qoffset.forEach((q, i) => v.setFloat32(268 + 4 * i, q, true));
  h.srow.forEach((s, i) => v.setFloat32(280 + 4 * i, s, true));
  bytes.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  return bytes;
}

/**
 * Serialises frames sharing one geometry and voxel type as a NIfTI image (3-D for one frame, 4-D
 * otherwise), sform and qform both set, units mm; NIfTI-2 when asked or when a dim exceeds int16.
 */
export function encodeNiftiFrames(
  frames: readonly Volume[],
  gzip: boolean,
  options: NiftiWriteOptions = {},
): Uint8Array {
  if (frames.length === 0) throw new Error("no frames to write");
  const first = frames[0];
  for (const f of frames) {
    if (f.type !== first.type) throw new Error(`frames must share one voxel type (${first.type}, ${f.type})`);
    if (!f.shape.every((n, i) => n === first.shape[i]))
      throw new Error(`frames must share one shape (${first.shape.join("×")}, ${f.shape.join("×")})`);
  }
  const dims = frames.length > 1 ? [4, ...first.shape, frames.length, 1, 1, 1] : [3, ...first.shape, 1, 1, 1, 1];
  const version = options.version ?? (dims.some((d) => d > NIFTI1_MAX_DIM) ? 2 : 1);
  if (version === 1 && dims.some((d) => d > NIFTI1_MAX_DIM))
    throw new Error(`a NIfTI-1 dim cannot exceed ${NIFTI1_MAX_DIM} (${dims.slice(1).join("×")}): write NIfTI-2`);
  const q = affineToQuaternion(first);
  const affine = geometryAffine(first, true);
  const header: NiftiHeader = {
    version,
    le: true,
    datatype: CODE_OF[first.type],
    dims,
    pixdim: [q.qfac, ...first.spacing, 1, 1, 1, 1],
    voxOffset: version === 1 ? HEADER_SIZE + 4 : NIFTI2_HEADER_SIZE + 4,
    slope: 1,
    inter: 0,
    qformCode: 1, // scanner
    sformCode: 1, // scanner
    quatern: [q.b, q.c, q.d],
    qoffset: [affine[3], affine[7], affine[11]],
    srow: affine.slice(0, 12),
  };
  const bitpix = first.data.BYTES_PER_ELEMENT * 8;
  const head = version === 1 ? encodeNifti1Header(header, bitpix) : encodeNifti2Header(header, bitpix);
  const frameBytes = first.data.byteLength;
  const bytes = new Uint8Array(head.length + frames.length * frameBytes);
  bytes.set(head, 0);
  frames.forEach((f, i) =>
    bytes.set(new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength), head.length + i * frameBytes),
  );
  return gzip ? gzipSync(bytes, { level: 4 }) : bytes;
}

/** Serialises a volume as NIfTI-1 (NIfTI-2 when asked or when a dim exceeds int16), gzip-compressed if asked. */
export function encodeNifti(volume: Volume, gzip: boolean, options: NiftiWriteOptions = {}): Uint8Array {
  return encodeNiftiFrames([volume], gzip, options);
}

export function writeNifti(file: string, volume: Volume, options: NiftiWriteOptions = {}): void {
  writeFileAtomicSync(file, encodeNifti(volume, file.endsWith(".gz"), options));
}

/** Writes frames as one 4-D NIfTI file (3-D for a single frame). */
export function writeNiftiFrames(file: string, frames: readonly Volume[], options: NiftiWriteOptions = {}): void {
  writeFileAtomicSync(file, encodeNiftiFrames(frames, file.endsWith(".gz"), options));
}
