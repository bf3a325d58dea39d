// Training targets per patch: binary (lesion classes vs the rest) or BackSplit (lesion classes plus
// the merged background classes, by the rules of labels/merge.ts). The lesion values are exactly the
// annotation in both modes. A margin rule (--near-mm) uses the whole case's near-lesion region, so a
// patch's targets are the matching box of what `labels merge` writes for the case.
import type { DatasetJson } from "../dataset/layout.js";
import { type Box, boxShape, cropArray, nonzeroBox } from "../grid/box.js";
import {
  type MergePlan,
  type MergeReport,
  type SourceMap,
  nearRegion,
  paintTargets,
  planMerge,
} from "../labels/merge.js";
import { type CachedCase, type Patch, readCachedSeg } from "../preprocess/cache.js";

export interface TargetSpec {
  mode: "binary" | "backsplit";
  lesionClasses: Record<string, number>;
  ignoreValue: number | null;
  /** BackSplit: background sources in priority order with their class names. */
  sources: { name: string; classes: Record<string, number> }[];
  unassigned?: "background" | "ignore" | "marginal";
  nearMm?: number;
}

/** The target spec of a training configuration and its dataset.json. */
export function targetSpecFor(
  config: { mode: "binary" | "backsplit"; sources: string[]; unassigned?: TargetSpec["unassigned"]; nearMm?: number },
  json: DatasetJson,
): TargetSpec {
  const lesionClasses = Object.fromEntries(
    Object.entries(json.labels).filter(([n]) => n !== "background" && n !== "ignore"),
  );
  for (const s of config.sources)
    if (!json.background_sources?.[s]) throw new Error(`dataset.json has no background source '${s}'`);
  return {
    mode: config.mode,
    lesionClasses,
    ignoreValue: typeof json.labels.ignore === "number" ? json.labels.ignore : null,
    sources:
      config.mode === "backsplit"
        ? config.sources.map((s) => ({ name: s, classes: json.background_sources![s].labels }))
        : [],
    unassigned: config.unassigned,
    nearMm: config.nearMm,
  };
}

/** The target classes (name → value) a spec produces, without any data. */
export function targetClasses(spec: TargetSpec): MergeReport["classes"] {
  if (spec.mode === "binary") return { background: 0, ...spec.lesionClasses };
  return planMerge(spec.lesionClasses, spec.sources, spec.unassigned).classes;
}

/** A near-lesion region kept for one case: its bounding box and the box's voxels (null: no region). */
type NearBox = { box: Box; mask: Uint8Array } | null;

/**
 * Patch targets of one training run: the merge plan made once, and with a margin rule (nearMm) each
 * case's near-lesion region computed once over the whole cached case (as `labels merge` does on the
 * whole case: a lesion just outside a patch still counts), kept as its bounding box.
 */
export class PatchTargets {
  readonly #plan: MergePlan | null;
  readonly #near = new Map<string, NearBox>();

  constructor(
    readonly spec: TargetSpec,
    readonly cacheDir: string,
  ) {
    this.#plan = spec.mode === "backsplit" ? planMerge(spec.lesionClasses, spec.sources, spec.unassigned) : null;
  }

  /** Background sources a patch of `meta` must be read with. */
  sourcesOf(meta: CachedCase): string[] {
    return this.spec.sources.map((s) => s.name).filter((s) => meta.backgroundSources.includes(s));
  }

  /** Target of the patch `p` read at `start` (size `size`, [z, y, x]) of case `meta`. */
  target(meta: CachedCase, start: number[], size: number[], p: Patch): Int16Array {
    const spec = this.spec;
    if (!this.#plan) {
      const lesionValues = new Set(Object.values(spec.lesionClasses));
      return Int16Array.from(p.seg, (v) =>
        lesionValues.has(v) ? v : spec.ignoreValue !== null && v === spec.ignoreValue ? v : 0,
      );
    }
    const sources: SourceMap[] = spec.sources.map((s) => ({
      name: s.name,
      map: p.backgrounds[s.name] ?? new Int16Array(p.seg.length),
      classes: s.classes,
    }));
    const near = spec.nearMm === undefined ? null : cropBox(this.#nearBox(meta, spec.nearMm), start, size);
    return paintTargets(this.#plan, p.seg, sources, near);
  }

  #nearBox(meta: CachedCase, mm: number): NearBox {
    if (this.#near.has(meta.id)) return this.#near.get(meta.id)!;
    const shape = meta.shape.slice(1);
    const seg = readCachedSeg(this.cacheDir, meta);
    // merge works on x-fastest [nx, ny, nz]: the same memory as [z, y, x].
    const whole = nearRegion(seg, this.#plan!.lesionValues, [...shape].reverse(), [...meta.spacing].reverse(), mm);
    let kept: NearBox = null;
    if (whole.includes(1)) {
      const box = nonzeroBox([whole], shape);
      kept = { box, mask: cropArray(whole, shape, box, (n) => new Uint8Array(n)) };
    }
    this.#near.set(meta.id, kept);
    return kept;
  }
}

/** The [start, start + size) box of a kept region (0 outside it). */
function cropBox(near: NearBox, start: number[], size: number[]): Uint8Array {
  const out = new Uint8Array(size[0] * size[1] * size[2]);
  if (!near) return out;
  const lo = near.box.start;
  const [bz, by, bx] = boxShape(near.box);
  for (let z = 0; z < size[0]; z++) {
    const zz = start[0] + z - lo[0];
    if (zz < 0 || zz >= bz) continue;
    for (let y = 0; y < size[1]; y++) {
      const yy = start[1] + y - lo[1];
      if (yy < 0 || yy >= by) continue;
      for (let x = 0; x < size[2]; x++) {
        const xx = start[2] + x - lo[2];
        if (xx >= 0 && xx < bx) out[x + size[2] * (y + size[1] * z)] = near.mask[xx + bx * (yy + by * zz)];
      }
    }
  }
  return out;
}
