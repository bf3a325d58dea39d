// Seeded 3D phantoms that behave like the real problem, for the demo (no downloads):
// a body (air outside, a fat shell) holding an "organ" and "soft tissue", bright "confuser" blobs in
// the soft tissue that look like lesions, and many small lesions that occur only inside the organ.
// The ground-truth tissue map is the "manual" background source. Nothing is rigged: a binary model
// sees the same images; only the label maps differ.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { encodeNifti } from "../io/nifti.js";
import { type Vec3, Volume } from "../io/volume.js";
import { mulberry32 } from "../util/random.js";

export const TISSUES = { fat: 1, organ: 2, soft_tissue: 3, confuser: 4 } as const;

export interface Phantom {
  image: Float32Array;
  lesions: Uint8Array;
  tissues: Uint8Array;
  lesionCount: number;
}

export const PHANTOM_SHAPE: Vec3 = [56, 56, 40];

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
}

/** One phantom case; the same seed gives the same case. */
export function makePhantom(seed: number, shape: Vec3 = PHANTOM_SHAPE): Phantom {
  const random = mulberry32(seed);
  const [nx, ny, nz] = shape;
  const n = nx * ny * nz;
  const tissues = new Uint8Array(n);
  const lesions = new Uint8Array(n);
  const centre = [nx / 2, ny / 2, nz / 2];
  const body = [nx * 0.44, ny * 0.42, nz * 0.42].map((r) => r * (0.9 + 0.1 * random()));
  const organ = {
    c: centre.map((c, a) => c + (random() - 0.5) * [10, 10, 6][a]),
    r: [9 + 4 * random(), 8 + 4 * random(), 6 + 3 * random()],
  };
  const inEllipsoid = (x: number, y: number, z: number, c: number[], r: number[]) =>
    ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2 < 1;
  for (let z = 0, p = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, p++) {
        if (!inEllipsoid(x, y, z, centre, body)) continue;
        const inner = inEllipsoid(
          x,
          y,
          z,
          centre,
          body.map((r) => r - 3.5),
        );
        tissues[p] = !inner
          ? TISSUES.fat
          : inEllipsoid(x, y, z, organ.c, organ.r)
            ? TISSUES.organ
            : TISSUES.soft_tissue;
      }
    }
  }
  const index = (x: number, y: number, z: number) => x + nx * (y + ny * z);
  const paintBall = (target: Uint8Array, c: number[], radius: number, value: number, where: number) => {
    let painted = 0;
    for (let z = Math.floor(c[2] - radius); z <= c[2] + radius; z++) {
      for (let y = Math.floor(c[1] - radius); y <= c[1] + radius; y++) {
        for (let x = Math.floor(c[0] - radius); x <= c[0] + radius; x++) {
          if (x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz) continue;
          if ((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2 > radius * radius) continue;
          const p = index(x, y, z);
          if (tissues[p] !== where) continue;
          target[p] = value;
          painted++;
        }
      }
    }
    return painted;
  };
  // Confusers: lesion-like bright blobs in the soft tissue (part of the tissue map, never lesions).
  const confusers = 6 + Math.floor(random() * 6);
  for (let k = 0; k < confusers; k++) {
    const c = [
      centre[0] + (random() - 0.5) * 2 * body[0],
      centre[1] + (random() - 0.5) * 2 * body[1],
      centre[2] + (random() - 0.5) * 2 * body[2],
    ];
    paintBall(tissues, c, 1.5 + 2.5 * random(), TISSUES.confuser, TISSUES.soft_tissue);
  }
  // Lesions: small (≈ 4–110 mm³) and only inside the organ.
  let lesionCount = 0;
  const wanted = 3 + Math.floor(random() * 8);
  for (let attempt = 0; attempt < 200 && lesionCount < wanted; attempt++) {
    const c = organ.c.map((v, a) => v + (random() - 0.5) * 1.6 * organ.r[a]);
    const radius = 1 + 2 * random() ** 2;
    const p = index(...(c.map(Math.round) as [number, number, number]));
    if (tissues[p] !== TISSUES.organ || lesions[p]) continue;
    // Keep lesions apart so each is one component.
    let clear = true;
    for (let d = -Math.ceil(radius) - 2; d <= Math.ceil(radius) + 2 && clear; d++) {
      for (const [dx, dy, dz] of [
        [d, 0, 0],
        [0, d, 0],
        [0, 0, d],
      ]) {
        const q = [Math.round(c[0]) + dx, Math.round(c[1]) + dy, Math.round(c[2]) + dz];
        if (q.every((v, a) => v >= 0 && v < shape[a]) && lesions[index(q[0], q[1], q[2])]) clear = false;
      }
    }
    if (!clear) continue;
    if (paintBall(lesions, c, radius, 1, TISSUES.organ) > 0) lesionCount++;
  }
  // Intensities: tissue means, tissue-specific texture, lesion ≈ confuser, noise and a smooth bias field.
  const mean = [0, 0.35, 0.55, 0.3, 0.95];
  const texture = [0, 0.03, 0.04, 0.1, 0.12];
  const image = new Float32Array(n);
  const bias = [random() - 0.5, random() - 0.5, random() - 0.5].map((v) => 0.15 * v);
  for (let z = 0, p = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, p++) {
        const t = tissues[p];
        if (t === 0) continue;
        const field = 1 + bias[0] * (x / nx - 0.5) + bias[1] * (y / ny - 0.5) + bias[2] * (z / nz - 0.5);
        const base = lesions[p] ? 0.95 : mean[t];
        const grain = lesions[p] ? 0.12 : texture[t];
        image[p] = Math.max(0.01, (base + grain * gaussian(random)) * field + 0.02 * gaussian(random));
      }
    }
  }
  return { image, lesions, tissues, lesionCount };
}

/** Writes a phantom dataset in nnU-Net layout, with the tissue maps as the "tissue" background source. */
export function writePhantomDataset(root: string, o: { train: number; test: number; seed: number }): void {
  const ending = ".nii.gz";
  for (const d of ["imagesTr", "labelsTr", "imagesTs", "labelsTs", "backgroundTr/tissue"])
    mkdirSync(path.join(root, d), { recursive: true });
  const geometry = { shape: PHANTOM_SHAPE, spacing: [1, 1, 1] as Vec3 };
  const write = (rel: string, data: Float32Array | Uint8Array) =>
    writeFileSync(path.join(root, rel), encodeNifti(new Volume(data, geometry), true));
  for (let i = 0; i < o.train + o.test; i++) {
    const test = i >= o.train;
    const id = `phantom_${String(i).padStart(3, "0")}`;
    const p = makePhantom(o.seed * 1000 + i);
    write(`${test ? "imagesTs" : "imagesTr"}/${id}_0000${ending}`, p.image);
    write(`${test ? "labelsTs" : "labelsTr"}/${id}${ending}`, p.lesions);
    if (!test) write(`backgroundTr/tissue/${id}${ending}`, p.tissues);
  }
  writeFileSync(
    path.join(root, "dataset.json"),
    `${JSON.stringify(
      {
        name: "BackSplitPhantom",
        description: `backsplit demo phantoms (seed ${o.seed}): lesions only in the organ, lesion-like confusers in the soft tissue`,
        channel_names: { "0": "MR" },
        labels: { background: 0, lesion: 1 },
        numTraining: o.train,
        file_ending: ending,
        background_sources: {
          tissue: { labels: { ...TISSUES }, description: "the phantom's ground-truth tissue map" },
        },
      },
      null,
      2,
    )}\n`,
  );
}
