// Slice montages: one axial slice through a case (where the reference has the most lesion), the image
// in grey with the contours of the reference and of each prediction in colour, as a PNG.
import { readVolume } from "../io/read.js";
import { type Volume, reorient } from "../io/volume.js";
import { encodePng } from "./png.js";

export interface Overlay {
  name: string;
  file: string;
  color: [number, number, number];
}

/** Colour-blind-safe contour colours (Okabe–Ito): reference, first prediction, second prediction. */
export const OVERLAY_COLORS: [number, number, number][] = [
  [240, 228, 66],
  [213, 94, 0],
  [86, 180, 233],
];

function slice(v: Volume, k: number): { data: Float64Array; width: number; height: number } {
  const [nx, ny] = v.shape;
  // RAS volume: columns x (patient left → right increasing), rows from anterior (top) to posterior.
  const data = new Float64Array(nx * ny);
  for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) data[(ny - 1 - y) * nx + x] = v.data[x + nx * (y + ny * k)];
  return { data, width: nx, height: ny };
}

/** The axial slice with the largest per-slice score (sum of `weight` over its voxels). */
function bestSlice(v: Volume, weight: (value: number) => number): number {
  const [nx, ny, nz] = v.shape;
  let best = Math.floor(nz / 2);
  let bestScore = -1;
  for (let k = 0; k < nz; k++) {
    let score = 0;
    for (let i = nx * ny * k; i < nx * ny * (k + 1); i++) score += weight(v.data[i]);
    if (score > bestScore) {
      bestScore = score;
      best = k;
    }
  }
  return best;
}

/** Grey level 0–1 of an image slice between its 1st and 99th percentiles. */
function greyWindow(data: Float64Array): (v: number) => number {
  const sorted = Float64Array.from(data).sort();
  const lo = sorted[Math.floor(0.01 * (sorted.length - 1))];
  const hi = sorted[Math.floor(0.99 * (sorted.length - 1))] || lo + 1;
  return (v) => Math.min(1, Math.max(0, (v - lo) / (hi - lo)));
}

/** Renders the montage PNG; returns it with the slice index used. */
export async function renderMontage(
  image: string,
  reference: string,
  overlays: Overlay[],
  scale = 2,
): Promise<{ png: Buffer; slice: number; width: number; height: number }> {
  const img = reorient(await readVolume(image), "RAS");
  const ref = reorient(await readVolume(reference), "RAS");
  const best = bestSlice(ref, (v) => (v ? 1 : 0));
  const base = slice(img, best);
  const grey = greyWindow(base.data);
  const width = base.width * scale;
  const height = base.height * scale;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = base.data[Math.floor(y / scale) * base.width + Math.floor(x / scale)];
      const g = Math.round(255 * grey(v));
      rgb.set([g, g, g], 3 * (y * width + x));
    }
  }
  const layers = [{ name: "reference", file: reference, color: OVERLAY_COLORS[0] }, ...overlays];
  for (const layer of layers) {
    const mask = slice(layer.file === reference ? ref : reorient(await readVolume(layer.file), "RAS"), best);
    const at = (x: number, y: number) =>
      x >= 0 && y >= 0 && x < mask.width && y < mask.height && mask.data[y * mask.width + x] !== 0;
    for (let y = 0; y < mask.height; y++) {
      for (let x = 0; x < mask.width; x++) {
        if (!at(x, y) || (at(x - 1, y) && at(x + 1, y) && at(x, y - 1) && at(x, y + 1))) continue;
        for (let dy = 0; dy < scale; dy++)
          for (let dx = 0; dx < scale; dx++) rgb.set(layer.color, 3 * ((y * scale + dy) * width + x * scale + dx));
      }
    }
  }
  return { png: encodePng(rgb, width, height), slice: best, width, height };
}

/**
 * A map over the image on one axial slice (the one with the largest sum of the map): grey image, the
 * map in a yellow–red ramp with opacity rising with the value (0 transparent, the 99th percentile
 * opaque). Returns the PNG, the slice and the map's value at full colour.
 */
export async function renderHeatSlice(
  image: string,
  map: string,
  scale = 2,
): Promise<{ png: Buffer; slice: number; width: number; height: number; max: number }> {
  const img = reorient(await readVolume(image), "RAS");
  const heat = reorient(await readVolume(map), "RAS");
  const best = bestSlice(heat, (v) => v);
  const base = slice(img, best);
  const h = slice(heat, best);
  const grey = greyWindow(base.data);
  const positive = Float64Array.from(h.data.filter((v) => v > 0)).sort();
  const max = positive.length ? positive[Math.floor(0.99 * (positive.length - 1))] : 1;
  const width = base.width * scale;
  const height = base.height * scale;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = Math.floor(y / scale) * base.width + Math.floor(x / scale);
      const g = 255 * grey(base.data[i]);
      const t = Math.min(1, Math.max(0, h.data[i] / max));
      // Yellow (low) to red (high), blended over the grey image with alpha = t.
      const colour = [255, 230 * (1 - t), 40 * (1 - t)];
      rgb.set(
        colour.map((c) => Math.round(g * (1 - t) + c * t)),
        3 * (y * width + x),
      );
    }
  }
  return { png: encodePng(rgb, width, height), slice: best, width, height, max };
}
