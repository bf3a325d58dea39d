// Resampling of volumes between spacings, on the engine (libtorch's interpolation kernels).
// Arrays are [z, y, x] in C order (x fastest), the same memory as a Volume's data.
// Coordinates follow align_corners = false: voxel centres keep their world positions when the
// field of view is kept (new shape = old shape · old spacing / new spacing).
import { F, type Tensor, arange, full, noGrad, stack, tensor, tidy, where, zeros } from "../engine/index.js";

export type ImageInterpolation = "linear" | "cubic";
export type LabelInterpolation = "nearest" | "smooth";

export type Shape3 = [number, number, number];

/** Shape after resampling from one spacing to another ([z, y, x] order for both). */
export function resampledShape(shape: readonly number[], from: readonly number[], to: readonly number[]): Shape3 {
  return shape.map((n, i) => Math.max(1, Math.round((n * from[i]) / to[i]))) as Shape3;
}

function toTensor(data: ArrayLike<number> & { buffer?: ArrayBufferLike }, shape: readonly number[]): Tensor {
  const f = data instanceof Float32Array ? data : Float32Array.from(data);
  return tensor(f, [1, 1, ...shape]);
}

/** Resamples an image [z, y, x] to a new shape, trilinear or (separable) bicubic. */
export function resampleImage(
  data: ArrayLike<number>,
  shape: readonly number[],
  target: readonly number[],
  mode: ImageInterpolation = "linear",
): Float32Array {
  if (shape.every((n, i) => n === target[i])) return Float32Array.from(data);
  return noGrad(() =>
    tidy(() => {
      const x = toTensor(data, shape);
      if (mode === "linear") return F.interpolate(x, target, "trilinear", false).data<"float32">();
      // Tricubic as two bicubic passes: in-plane per slice, then along z with the plane flattened.
      const [z, y, w] = shape;
      const inPlane = F.interpolate(x.reshape([z, 1, y, w]), [target[1], target[2]], "bicubic", false);
      const columns = inPlane.reshape([1, 1, z, target[1] * target[2]]);
      return F.interpolate(columns, [target[0], target[1] * target[2]], "bicubic", false).data<"float32">();
    }),
  );
}

/** Per-class bounding boxes [z0, y0, x0, z1, y1, x1] (end exclusive) of a [z, y, x] label array. */
function classBoxes(data: ArrayLike<number>, shape: readonly number[]): Map<number, number[]> {
  const [nz, ny, nx] = shape;
  const boxes = new Map<number, number[]>();
  for (let z = 0, p = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, p++) {
        const v = data[p];
        let b = boxes.get(v);
        if (!b) {
          b = [z, y, x, z + 1, y + 1, x + 1];
          boxes.set(v, b);
          continue;
        }
        if (y < b[1]) b[1] = y;
        if (x < b[2]) b[2] = x;
        b[3] = z + 1;
        if (y >= b[4]) b[4] = y + 1;
        if (x >= b[5]) b[5] = x + 1;
      }
    }
  }
  return boxes;
}

/**
 * Resamples a label map [z, y, x]: "nearest", or "smooth" (each class's one-hot mask resampled
 * trilinearly, then the most likely class per voxel, like nnU-Net's order-1 per-class resampling).
 * Each class is resampled only inside its own bounding box, so the cost follows the classes' extent.
 */
export function resampleLabels(
  data: ArrayLike<number>,
  shape: readonly number[],
  target: readonly number[],
  mode: LabelInterpolation = "smooth",
): Int16Array {
  if (shape.every((n, i) => n === target[i])) return Int16Array.from(data);
  const boxes = classBoxes(data, shape);
  const values = [...boxes.keys()].sort((a, b) => a - b);
  const resampled = noGrad(() =>
    tidy(() => {
      const x = toTensor(data, shape);
      if (mode === "nearest" || values.length <= 1) return F.interpolate(x, target, "nearest").data<"float32">();
      const scale = shape.map((n, a) => n / target[a]);
      const best = zeros([...target]);
      const labels = full([...target], values[0]);
      for (const v of values) {
        tidy(() => {
          const b = boxes.get(v)!;
          // Source box with a one-voxel margin, and the target voxels whose source position falls in it.
          const lo = [0, 1, 2].map((a) => Math.max(0, b[a] - 1));
          const hi = [0, 1, 2].map((a) => Math.min(shape[a], b[a + 3] + 1));
          const tlo = lo.map((l, a) => Math.max(0, Math.floor((l + 0.5) / scale[a] - 0.5)));
          const thi = hi.map((h, a) => Math.min(target[a], Math.ceil((h - 0.5) / scale[a] + 0.5)));
          if (thi.some((t, a) => t <= tlo[a])) return;
          const size = hi.map((h, a) => h - lo[a]);
          // Normalised grid_sample coordinates (align_corners = false) of each target voxel in the source box.
          const axis = (a: number) =>
            arange(tlo[a], thi[a], 1, { dtype: "float32" })
              .add(0.5)
              .mul(scale[a])
              .sub(0.5 + lo[a])
              .mul(2)
              .add(1)
              .div(size[a])
              .sub(1);
          const [tz, ty, tx] = [0, 1, 2].map((a) => thi[a] - tlo[a]);
          const grid = stack(
            [
              axis(2).reshape([1, 1, tx]).expand([tz, ty, tx]),
              axis(1).reshape([1, ty, 1]).expand([tz, ty, tx]),
              axis(0).reshape([tz, 1, 1]).expand([tz, ty, tx]),
            ],
            3,
          ).unsqueeze(0);
          const oneHot = x.slice(2, lo[0], hi[0]).slice(3, lo[1], hi[1]).slice(4, lo[2], hi[2]).eq(v).float();
          const p = F.gridSample(oneHot, grid, { mode: "bilinear", padding: "border", alignCorners: false }).reshape([
            tz,
            ty,
            tx,
          ]);
          const bestBox = best.slice(0, tlo[0], thi[0]).slice(1, tlo[1], thi[1]).slice(2, tlo[2], thi[2]);
          const labelBox = labels.slice(0, tlo[0], thi[0]).slice(1, tlo[1], thi[1]).slice(2, tlo[2], thi[2]);
          const better = p.gt(bestBox);
          labelBox.copy_(where(better, v, labelBox));
          bestBox.copy_(bestBox.maximum(p));
        });
      }
      return labels.data<"float32">();
    }),
  );
  return Int16Array.from(resampled, Math.round);
}
