// The preprocessed-case cache: raw little-endian arrays beside a JSON description, so training reads
// random patches with positioned reads (no decompression, no whole-volume load) and numpy can
// np.memmap the same files:
//   {id}.json              CachedCase (shapes, geometry to restore predictions, lesion instances)
//   {id}.data.f32          float32 [channels, z, y, x]
//   {id}.seg.i16           int16   [z, y, x] lesion label map
//   {id}.bg.<source>.i16   int16   [z, y, x] background map of one source (0 = not assigned)
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import path from "node:path";
import type { Box } from "../grid/box.js";
import { writeFileAtomicSync } from "../util/atomic.js";

export interface LesionInstance {
  label: number;
  /** Centre of the instance's bounding box, [z, y, x] voxels of the cached grid. */
  center: number[];
  voxels: number;
  /** Bounding box of the instance, inclusive [z, y, x] corners (absent in caches written before it). */
  lo?: number[];
  hi?: number[];
}

export interface CachedCase {
  id: string;
  /** [channels, z, y, x] */
  shape: number[];
  spacing: number[];
  /** What is needed to map a prediction back onto the original image. */
  original: {
    shapeXyz: number[];
    spacingXyz: number[];
    origin: number[];
    direction: number[];
    /** Crop box in the original [z, y, x] grid. */
    box: Box;
  };
  lesions: LesionInstance[];
  backgroundSources: string[];
}

export interface CaseArrays {
  data: Float32Array;
  seg: Int16Array;
  backgrounds: Record<string, Int16Array>;
}

export function writeCachedCase(dir: string, meta: CachedCase, arrays: CaseArrays): void {
  writeFileAtomicSync(path.join(dir, `${meta.id}.data.f32`), arrays.data);
  writeFileAtomicSync(path.join(dir, `${meta.id}.seg.i16`), arrays.seg);
  for (const [source, map] of Object.entries(arrays.backgrounds))
    writeFileAtomicSync(path.join(dir, `${meta.id}.bg.${source}.i16`), map);
  // The JSON last: its presence marks a complete case.
  writeFileAtomicSync(path.join(dir, `${meta.id}.json`), `${JSON.stringify(meta)}\n`);
}

export function readCachedMeta(dir: string, id: string): CachedCase {
  return JSON.parse(readFileSync(path.join(dir, `${id}.json`), "utf8")) as CachedCase;
}

/** Reads a [z, y, x] box of one channel-stacked file, zero-padded where the box leaves the volume. */
function readBox<T extends Float32Array | Int16Array>(
  file: string,
  make: (n: number) => T,
  channels: number,
  shape: number[],
  start: number[],
  size: number[],
  pad: number,
): T {
  const [nz, ny, nx] = shape;
  const out = make(channels * size[0] * size[1] * size[2]);
  if (pad !== 0) out.fill(pad);
  const bytes = out.BYTES_PER_ELEMENT;
  const z0 = Math.max(0, start[0]);
  const z1 = Math.min(nz, start[0] + size[0]);
  if (z1 <= z0) return out;
  const fd = openSync(file, "r");
  try {
    const slab = make((z1 - z0) * ny * nx);
    const slabBytes = new Uint8Array(slab.buffer);
    for (let c = 0; c < channels; c++) {
      // One positioned read per channel: the z-slab that the box touches.
      readSync(fd, slabBytes, 0, slabBytes.length, bytes * nx * ny * (nz * c + z0));
      for (let z = z0; z < z1; z++) {
        for (let y = Math.max(0, start[1]); y < Math.min(ny, start[1] + size[1]); y++) {
          const x0 = Math.max(0, start[2]);
          const x1 = Math.min(nx, start[2] + size[2]);
          if (x1 <= x0) continue;
          const from = nx * (y + ny * (z - z0)) + x0;
          const to = size[2] * (y - start[1] + size[1] * (z - start[0] + size[0] * c)) + (x0 - start[2]);
          out.set(slab.subarray(from, from + x1 - x0), to);
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** A [z, y, x] box of a cached case's lesion label map, zero outside the volume. */
export function readCachedSegBox(dir: string, meta: CachedCase, start: number[], size: number[]): Int16Array {
  const file = `${path.join(dir, meta.id)}.seg.i16`;
  return readBox(file, (n) => new Int16Array(n), 1, meta.shape.slice(1), start, size, 0);
}

/** The whole [z, y, x] lesion label map of a cached case. */
export function readCachedSeg(dir: string, meta: CachedCase): Int16Array {
  return readCachedSegBox(dir, meta, [0, 0, 0], meta.shape.slice(1));
}

export interface Patch {
  data: Float32Array;
  seg: Int16Array;
  backgrounds: Record<string, Int16Array>;
}

/** Reads a patch [start, start + size) in [z, y, x]; outside the volume, data is 0 and labels are 0. */
export function readPatch(
  dir: string,
  meta: CachedCase,
  start: number[],
  size: number[],
  sources: string[] = [],
): Patch {
  const [channels, ...shape] = meta.shape;
  const base = path.join(dir, meta.id);
  const backgrounds: Record<string, Int16Array> = {};
  for (const s of sources)
    backgrounds[s] = readBox(`${base}.bg.${s}.i16`, (n) => new Int16Array(n), 1, shape, start, size, 0);
  return {
    data: readBox(`${base}.data.f32`, (n) => new Float32Array(n), channels, shape, start, size, 0),
    seg: readCachedSegBox(dir, meta, start, size),
    backgrounds,
  };
}
