// Lesion-aware patch sampling. A share of patches (default 1/3) is centred near a lesion chosen
// uniformly over all lesion instances (26-connected components) of the training cases, so small
// lesions are seen as often as big ones whatever the number of background classes; the rest are
// random. Every draw is a pure function of (seed, iteration, slot), so a resumed run samples the same.
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
}

export class PatchSampler {
  /** Every lesion instance: [case index, instance index]. */
  readonly instances: [number, number][];

  constructor(
    readonly cases: CachedCase[],
    readonly o: SamplerOptions,
  ) {
    this.instances = cases.flatMap((c, i) => c.lesions.map((_, j) => [i, j] as [number, number]));
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
    // Starts from -patch/2 to shape - patch/2, so borders are seen as often as the centre.
    const start = shape.map((n, a) => Math.floor(r() * Math.max(1, n)) - Math.floor(this.o.patch[a] / 2));
    return { caseIndex, start, lesion: null };
  }

  private lesionPatch(r: () => number): PatchRequest {
    const k = Math.floor(r() * this.instances.length);
    const [caseIndex, j] = this.instances[k];
    const center = this.cases[caseIndex].lesions[j].center;
    // Jitter by up to a quarter patch so the lesion is not always in the middle.
    const start = center.map(
      (c, a) => c - Math.floor(this.o.patch[a] / 2) + Math.round((r() - 0.5) * (this.o.patch[a] / 2)),
    );
    return { caseIndex, start, lesion: k };
  }
}
