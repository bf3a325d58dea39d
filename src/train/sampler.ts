// Lesion-aware patch sampling. A share of patches (default 1/3) is centred near a lesion: by default
// one chosen uniformly over all lesion instances (26-connected components) of the training cases, so
// small lesions are seen as often as big ones whatever the number of background classes; or by
// nnU-Net's rule, a lesion voxel of a case, so big lesions more often. The rest are random. Every
// draw is a pure function of (seed, iteration, slot), so a resumed run samples the same.
import type { CachedCase } from "../preprocess/cache.js";
import { mulberry32 } from "../util/random.js";

export interface PatchRequest {
  caseIndex: number;
  /** [z, y, x] start; may lie partly outside the volume (padded on reading). */
  start: number[];
  /** The lesion instance the patch was centred on, or null for a random patch. */
  lesion: number | null;
}

/** A small deterministic PRNG from a 32-bit hash of its seed words. */
export function hashRandom(...words: number[]): () => number {
  let h = 0x811c9dc5;
  for (const w of words) {
    h ^= w >>> 0;
    h = Math.imul(h, 0x01000193) >>> 0;
    h ^= h >>> 13;
  }
  return mulberry32(h);
}

export interface SamplerOptions {
  patch: number[];
  batch: number;
  seed: number;
  /** Share of patches centred on a lesion instance (nnU-Net's oversample_foreground_percent is 1/3). */
  lesionShare?: number;
  /** Centre lesion patches on a uniform point of the lesion's bounding box (default) or on its centre. */
  lesionPoint?: "box" | "centre";
  /**
   * Which lesion a lesion patch is centred on: every instance equally often ("instance", default), or
   * nnU-Net's rule ("voxel": a case with lesions uniformly, then one of its lesion voxels uniformly, so
   * an instance in proportion to its voxels).
   */
  lesionSampling?: "instance" | "voxel";
}

export class PatchSampler {
  /** Every lesion instance: [case index, instance index]. */
  readonly instances: [number, number][];

  /** Per case with lesions: the index of its first instance in `instances` and its instances' running voxel totals. */
  private readonly lesionCases: { first: number; cumulative: number[] }[] = [];

  constructor(
    readonly cases: CachedCase[],
    readonly o: SamplerOptions,
  ) {
    this.instances = cases.flatMap((c, i) => c.lesions.map((_, j) => [i, j] as [number, number]));
    let first = 0;
    for (const c of cases) {
      const cumulative: number[] = [];
      for (const l of c.lesions) cumulative.push((cumulative.at(-1) ?? 0) + l.voxels);
      if (cumulative.length > 0) this.lesionCases.push({ first, cumulative });
      first += c.lesions.length;
    }
  }

  /** The index in `instances` of the lesion a lesion patch is centred on. */
  private pickInstance(r: () => number): number {
    if (this.o.lesionSampling !== "voxel") return Math.floor(r() * this.instances.length);
    const { first, cumulative } = this.lesionCases[Math.floor(r() * this.lesionCases.length)];
    const voxel = Math.floor(r() * cumulative[cumulative.length - 1]);
    return first + cumulative.findIndex((total) => voxel < total);
  }

  /** The patches of one batch: the last round(batch · share) slots are lesion-centred (at least one when share > 0). */
  batch(iteration: number): PatchRequest[] {
    const share = this.o.lesionShare ?? 1 / 3;
    const lesionSlots = this.instances.length === 0 || share === 0 ? 0 : Math.max(1, Math.round(this.o.batch * share));
    return Array.from({ length: this.o.batch }, (_, slot) => {
      const r = hashRandom(this.o.seed, iteration, slot);
      return slot >= this.o.batch - lesionSlots ? this.lesionPatch(r) : this.randomPatch(r);
    });
  }

  private randomPatch(r: () => number): PatchRequest {
    const caseIndex = Math.floor(r() * this.cases.length);
    const shape = this.cases[caseIndex].shape.slice(1);
    // nnU-Net's random patch: wholly inside the volume along every axis at least a patch long,
    // centred (with random slack) along shorter ones. Letting patches hang half outside, as an
    // earlier version did, filled about a quarter of a 2D patch with padding.
    const start = shape.map((n, a) => {
      const p = this.o.patch[a];
      return n >= p ? Math.floor(r() * (n - p + 1)) : n - p + Math.floor(r() * (p - n + 1));
    });
    return { caseIndex, start, lesion: null };
  }

  private lesionPatch(r: () => number): PatchRequest {
    const k = this.pickInstance(r);
    const [caseIndex, j] = this.instances[k];
    const instance = this.cases[caseIndex].lesions[j];
    const shape = this.cases[caseIndex].shape.slice(1);
    // A point drawn uniformly in the instance's bounding box (every slice of a lesion can be the one a
    // 2D patch sees, as nnU-Net's random foreground voxel does), jittered by up to a quarter patch so
    // the lesion is not always in the middle, then kept inside the volume like a random patch.
    const start = instance.center.map((c, a) => {
      const p = this.o.patch[a];
      const lo = instance.lo?.[a] ?? c;
      const hi = instance.hi?.[a] ?? c;
      const draw = r(); // drawn either way, so both settings see the same jitter and later draws
      const point = this.o.lesionPoint === "centre" ? Math.round(c) : lo + Math.floor(draw * (hi - lo + 1));
      const s = point - Math.floor(p / 2) + Math.round((r() - 0.5) * (p / 2));
      const n = shape[a];
      return n >= p ? Math.min(Math.max(s, 0), n - p) : Math.min(Math.max(s, n - p), 0);
    });
    return { caseIndex, start, lesion: k };
  }
}
