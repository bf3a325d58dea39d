// The one image type used everywhere: voxels plus full geometry.
//
// Conventions (those of ITK, SimpleITK and nnU-Net):
// - data is stored with x fastest: index = i + nx·(j + ny·k) for voxel (i, j, k); shape is [nx, ny, nz];
// - world coordinates are LPS millimetres (x to the patient's Left, y Posterior, z Superior);
// - world = origin + direction · diag(spacing) · (i, j, k), origin being the centre of voxel (0, 0, 0);
// - direction is a 3×3 row-major matrix whose column j is the unit vector of voxel axis j.
// nibabel's affines are RAS: affineRas() converts (negate the first two rows).

export type VoxelType = "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";
export type VoxelArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;
export type Vec3 = [number, number, number];
/** Row-major 3×3. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];
/** Row-major 4×4. */
export type Mat4 = number[];

export const ARRAY_OF: Record<VoxelType, new (n: number | ArrayBufferLike) => VoxelArray> = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
};

export function voxelTypeOf(data: VoxelArray): VoxelType {
  for (const [type, ctor] of Object.entries(ARRAY_OF)) if (data instanceof ctor) return type as VoxelType;
  throw new Error("unsupported voxel array type");
}

export interface Geometry {
  shape: Vec3;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
}

export const IDENTITY3: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

export class Volume implements Geometry {
  readonly shape: Vec3;
  readonly spacing: Vec3;
  readonly origin: Vec3;
  readonly direction: Mat3;

  constructor(
    readonly data: VoxelArray,
    geometry: Partial<Geometry> & { shape: Vec3 },
  ) {
    this.shape = [...geometry.shape];
    this.spacing = [...(geometry.spacing ?? [1, 1, 1])];
    this.origin = [...(geometry.origin ?? [0, 0, 0])];
    this.direction = [...(geometry.direction ?? IDENTITY3)];
    const n = this.shape[0] * this.shape[1] * this.shape[2];
    if (data.length !== n)
      throw new Error(`volume data has ${data.length} voxels, shape ${this.shape.join("×")} needs ${n}`);
    if (this.spacing.some((s) => !(s > 0))) throw new Error(`spacing must be positive, got ${this.spacing.join(", ")}`);
  }

  get type(): VoxelType {
    return voxelTypeOf(this.data);
  }

  get voxelCount(): number {
    return this.data.length;
  }

  get geometry(): Geometry {
    return {
      shape: [...this.shape],
      spacing: [...this.spacing],
      origin: [...this.origin],
      direction: [...this.direction],
    };
  }

  /** A volume with other voxels (same count) and the same geometry. */
  withData(data: VoxelArray): Volume {
    return new Volume(data, this.geometry);
  }

  index(i: number, j: number, k: number): number {
    return i + this.shape[0] * (j + this.shape[1] * k);
  }

  at(i: number, j: number, k: number): number {
    return this.data[this.index(i, j, k)];
  }

  /** Voxel (continuous index) → LPS world millimetres. */
  voxelToWorld(ijk: readonly number[]): Vec3 {
    const d = this.direction;
    const s = [ijk[0] * this.spacing[0], ijk[1] * this.spacing[1], ijk[2] * this.spacing[2]];
    return [0, 1, 2].map((r) => this.origin[r] + d[3 * r] * s[0] + d[3 * r + 1] * s[1] + d[3 * r + 2] * s[2]) as Vec3;
  }

  /** LPS world millimetres → continuous voxel index. */
  worldToVoxel(xyz: readonly number[]): Vec3 {
    const inv = invert3(this.direction);
    const rel = [xyz[0] - this.origin[0], xyz[1] - this.origin[1], xyz[2] - this.origin[2]];
    return [0, 1, 2].map(
      (r) => (inv[3 * r] * rel[0] + inv[3 * r + 1] * rel[1] + inv[3 * r + 2] * rel[2]) / this.spacing[r],
    ) as Vec3;
  }

  /** 4×4 voxel → LPS world matrix (row-major). */
  affineLps(): Mat4 {
    return geometryAffine(this, false);
  }

  /** 4×4 voxel → RAS world matrix (row-major), as nibabel's img.affine. */
  affineRas(): Mat4 {
    return geometryAffine(this, true);
  }

  /** Axis codes in nibabel's sense: the RAS direction each voxel axis increases towards, e.g. "LAS". */
  orientation(): string {
    return orientationOf(this.direction);
  }
}

export function geometryAffine(g: Geometry, ras: boolean): Mat4 {
  const m: Mat4 = [];
  for (let r = 0; r < 3; r++) {
    const sign = ras && r < 2 ? -1 : 1;
    for (let c = 0; c < 3; c++) m.push(sign * g.direction[3 * r + c] * g.spacing[c]);
    m.push(sign * g.origin[r]);
  }
  m.push(0, 0, 0, 1);
  return m;
}

/** Geometry from a 4×4 voxel → world affine (row-major), RAS (NIfTI, MGH) or LPS. */
export function geometryFromAffine(affine: readonly number[], shape: Vec3, ras: boolean): Geometry {
  const spacing: number[] = [];
  const direction: number[] = Array(9).fill(0);
  for (let c = 0; c < 3; c++) {
    const col = [affine[c], affine[4 + c], affine[8 + c]].map((v, r) => (ras && r < 2 ? -v : v));
    const norm = Math.hypot(...col);
    spacing.push(norm);
    for (let r = 0; r < 3; r++) direction[3 * r + c] = norm > 0 ? col[r] / norm : r === c ? 1 : 0;
  }
  const origin = [affine[3], affine[7], affine[11]].map((v, r) => (ras && r < 2 ? -v : v));
  return { shape, spacing: spacing as Vec3, origin: origin as Vec3, direction: direction as Mat3 };
}

export function invert3(m: Mat3): Mat3 {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-12) throw new Error("direction matrix is singular");
  return [
    A / det,
    -(b * i - c * h) / det,
    (b * f - c * e) / det,
    B / det,
    (a * i - c * g) / det,
    -(a * f - c * d) / det,
    C / det,
    -(a * h - b * g) / det,
    (a * e - b * d) / det,
  ];
}

const RAS_LETTERS = [
  ["L", "R"],
  ["P", "A"],
  ["I", "S"],
];

/** nibabel-style axis codes of a direction matrix (LPS columns), by the dominant component of each axis. */
export function orientationOf(direction: Mat3): string {
  let code = "";
  for (let c = 0; c < 3; c++) {
    const col = [direction[c], direction[3 + c], direction[6 + c]];
    const r = [0, 1, 2].reduce((best, k) => (Math.abs(col[k]) > Math.abs(col[best]) ? k : best), 0);
    // LPS component > 0 means towards L, P or S; in RAS terms x and y flip.
    const rasPositive = r < 2 ? col[r] < 0 : col[r] > 0;
    code += RAS_LETTERS[r][rasPositive ? 1 : 0];
  }
  return code;
}

/**
 * Reorders voxels so that the axes point to the given nibabel-style codes (e.g. "RAS", "LPS", "LIA"),
 * adjusting origin and direction so that every voxel keeps its world position.
 */
export function reorient(volume: Volume, target: string): Volume {
  const code = target.toUpperCase();
  if (!/^[LR][PA][IS]$|^[LRPAIS]{3}$/.test(code))
    throw new Error(`orientation '${target}' is not three axis codes like RAS or LIA`);
  const current = volume.orientation();
  // For each target axis t: the source axis along the same world axis, and whether it is flipped.
  const perm: number[] = [];
  const flip: boolean[] = [];
  for (const letter of code) {
    const family = RAS_LETTERS.findIndex((pair) => pair.includes(letter));
    const source = [...current].findIndex((l) => RAS_LETTERS[family].includes(l));
    if (family < 0 || source < 0 || perm.includes(source))
      throw new Error(`orientation '${target}' names an axis twice`);
    perm.push(source);
    flip.push(current[source] !== letter);
  }
  const [nx, ny, nz] = volume.shape;
  const srcShape = volume.shape;
  const shape = perm.map((p) => srcShape[p]) as Vec3;
  const out = new ARRAY_OF[volume.type](volume.data.length);
  const srcStride = [1, nx, nx * ny];
  const stride = perm.map((p) => srcStride[p]);
  const offset = perm.reduce((o, p, t) => o + (flip[t] ? (srcShape[p] - 1) * srcStride[p] : 0), 0);
  const step = stride.map((s, t) => (flip[t] ? -s : s));
  let n = 0;
  for (let k = 0; k < shape[2]; k++) {
    for (let j = 0; j < shape[1]; j++) {
      let src = offset + j * step[1] + k * step[2];
      for (let i = 0; i < shape[0]; i++, src += step[0]) out[n++] = volume.data[src];
    }
  }
  // New origin: world position of the source voxel that lands at (0, 0, 0).
  const firstSource = [0, 0, 0];
  perm.forEach((p, t) => {
    firstSource[p] = flip[t] ? srcShape[p] - 1 : 0;
  });
  const direction = Array(9).fill(0) as Mat3;
  perm.forEach((p, t) => {
    for (let r = 0; r < 3; r++) direction[3 * r + t] = (flip[t] ? -1 : 1) * volume.direction[3 * r + p];
  });
  void nz;
  return new Volume(out, {
    shape,
    spacing: perm.map((p) => volume.spacing[p]) as Vec3,
    origin: volume.voxelToWorld(firstSource),
    direction,
  });
}

/** Largest absolute difference between two geometries' fields, for tolerance checks. */
export function geometryDifference(
  a: Geometry,
  b: Geometry,
): { shape: boolean; spacing: number; origin: number; direction: number } {
  const diff = (x: readonly number[], y: readonly number[]) => Math.max(...x.map((v, i) => Math.abs(v - y[i])));
  return {
    shape: a.shape.every((v, i) => v === b.shape[i]),
    spacing: diff(a.spacing, b.spacing),
    origin: diff(a.origin, b.origin),
    direction: diff(a.direction, b.direction),
  };
}
