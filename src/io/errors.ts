// Errors and byte helpers shared by the image readers.
import { gunzipSync } from "node:zlib";

/** A file that is not a readable image; the message names the file. */
export class ImageFormatError extends Error {}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export function maybeGunzip(bytes: Uint8Array, source: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (error) {
    throw new ImageFormatError(`${source}: corrupt or truncated gzip stream (${(error as Error).message})`);
  }
}
