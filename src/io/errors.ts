// Errors and byte helpers shared by the image readers: gzip inflation bounded by what a header
// declares (#15), so trailing data and gzip bombs are refused before they can take the memory.
import { kMaxLength } from "node:buffer";
import { gunzipSync, constants as zlibConstants } from "node:zlib";

/** A file that is not a readable image; the message names the file. */
export class ImageFormatError extends Error {}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Bytes a decompressed image may hold beyond what its header declares (some writers append a few). */
export const TRAILING_MARGIN = 64 * 1024;

function gunzipError(source: string, error: unknown): ImageFormatError {
  return new ImageFormatError(`${source}: corrupt or truncated gzip stream (${(error as Error).message})`);
}

/** Inflates a whole gzip stream (bytes that are not gzip are returned as they are). Unbounded: prefer gunzipBounded. */
export function maybeGunzip(bytes: Uint8Array, source: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (error) {
    throw gunzipError(source, error);
  }
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
 * `declared` describes the header's size in the error. Bytes that are not gzip are returned as they are.
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

/**
 * Refuses voxel data larger than a Node buffer can hold (counting the `offset` bytes of header before
 * it), before anything is inflated or allocated.
 */
export function checkDataSize(source: string, shape: readonly number[], type: string, bytes: number, offset = 0): void {
  if (bytes > kMaxLength)
    throw new ImageFormatError(
      `${source}: ${shape.join("×")} ${type} needs ${bytes} bytes, more than one image may hold (${kMaxLength})`,
    );
  if (offset + bytes > kMaxLength)
    throw new ImageFormatError(
      `${source}: ${shape.join("×")} ${type} (${bytes} bytes) after ${offset} bytes of header: more than one image may hold (${kMaxLength})`,
    );
}

/**
 * Refuses decompressed (or plain) image bytes holding more than `margin` bytes after the `needed`
 * ones the header declares.
 */
export function checkTrailing(source: string, length: number, needed: number, margin: number, what: string): void {
  if (length > needed + margin)
    throw new ImageFormatError(
      `${source}: ${length - needed} bytes of trailing data after the ${what} the header declares; refused`,
    );
}
