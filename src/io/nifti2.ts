// NIfTI-2 headers (540 bytes: 64-bit dims and offsets, double-precision geometry), read and written.
// The fields are those of NIfTI-1 at other offsets and widths, so both versions share one header
// type (NiftiHeader) and one decoder and encoder of voxels and geometry (nifti.ts).
import { ImageFormatError } from "./errors.js";
import type { NiftiHeader } from "./nifti.js";

export const NIFTI2_HEADER_SIZE = 540;
/** "n+2\0\r\n\032\n": single-file NIfTI-2. */
const MAGIC = [0x6e, 0x2b, 0x32, 0x00, 0x0d, 0x0a, 0x1a, 0x0a];

function int64(v: DataView, offset: number, le: boolean, source: string, field: string): number {
  const value = v.getBigInt64(offset, le);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER))
    throw new ImageFormatError(`${source}: NIfTI-2 ${field} ${value} is too large`);
  return Number(value);
}

/** Parses a NIfTI-2 header (after the caller has seen sizeof_hdr = 540 in byte order `le`). */
export function parseNifti2Header(bytes: Uint8Array, le: boolean, source: string): NiftiHeader {
  if (bytes.length < NIFTI2_HEADER_SIZE)
    throw new ImageFormatError(`${source}: only ${bytes.length} bytes, a NIfTI-2 header needs ${NIFTI2_HEADER_SIZE}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = String.fromCharCode(bytes[4], bytes[5], bytes[6]);
  if (magic === "ni2") throw new ImageFormatError(`${source}: two-file NIfTI-2 (.hdr/.img) is not supported`);
  if (magic !== "n+2") throw new ImageFormatError(`${source}: magic '${magic}' is not NIfTI-2 ('n+2')`);
  const f64 = (o: number) => v.getFloat64(o, le);
  return {
    version: 2,
    le,
    datatype: v.getInt16(12, le),
    dims: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => int64(v, 16 + 8 * i, le, source, `dim[${i}]`)),
    pixdim: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => f64(104 + 8 * i)),
    voxOffset: int64(v, 168, le, source, "vox_offset"),
    slope: f64(176),
    inter: f64(184),
    qformCode: v.getInt32(344, le),
    sformCode: v.getInt32(348, le),
    quatern: [f64(352), f64(360), f64(368)],
    qoffset: [f64(376), f64(384), f64(392)],
    srow: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => f64(400 + 8 * i)),
  };
}

/** Serialises a header as NIfTI-2, little-endian, followed by 4 zero bytes (no extensions): 544 bytes. */
export function encodeNifti2Header(h: NiftiHeader, bitpix: number): Uint8Array {
  const bytes = new Uint8Array(NIFTI2_HEADER_SIZE + 4);
  const v = new DataView(bytes.buffer);
  v.setInt32(0, NIFTI2_HEADER_SIZE, true);
  bytes.set(MAGIC, 4);
  v.setInt16(12, h.datatype, true);
  v.setInt16(14, bitpix, true);
  h.dims.forEach((d, i) => v.setBigInt64(16 + 8 * i, BigInt(d), true));
  h.pixdim.forEach((p, i) => v.setFloat64(104 + 8 * i, p, true));
  v.setBigInt64(168, BigInt(h.voxOffset), true);
  v.setFloat64(176, h.slope, true);
  v.setFloat64(184, h.inter, true);
  v.setInt32(344, h.qformCode, true);
  v.setInt32(348, h.sformCode, true);
  h.quatern.forEach((q, i) => v.setFloat64(352 + 8 * i, q, true));
  h.qoffset.forEach((q, i) => v.setFloat64(376 + 8 * i, q, true));
  h.srow.forEach((s, i) => v.setFloat64(400 + 8 * i, s, true));
  v.setInt32(500, 2 | 8, true); // xyzt_units: mm, seconds
  return bytes;
}
