import { mulberry32 } from "../util/random.js";
// Lesion-level summary of one arm over its seeds, pooled over test cases: what a benchmark prints when
// there are few test cases but many lesions. Units are reference lesions (detected or not, with their
// Dice) and false-positive components; metrics are computed on the pooled units of each seed and
// averaged over seeds. The 95 % CI is a percentile bootstrap that resamples units within each seed, so
// it reflects which lesions happened to be in the test set, not case-to-case variation.
import type { Evaluation } from "./evaluate.js";
import { mean } from "./stats.js";

interface Unit {
  /** 0 for a false-positive component. */
  refVolumeMm3: number;
  detected: boolean;
  dice: number;
  falsePositive: boolean;
}

export interface PooledMetric {
  /** Mean over seeds of the pooled metric. */
  value: number;
  ci: [number, number];
  perSeed: number[];
  /** Standard deviation over seeds (0 with one seed). */
  seedSd: number;
}

export interface PooledSummary {
  seeds: number;
  referenceLesions: number;
  smallReferenceLesions: number;
  smallMm3: number;
  /** Sum of matched-lesion Dice over (reference lesions + false positives), BraTS-2023 style. */
  lesionDice: PooledMetric;
  /** 2·TP / (2·TP + FP + FN) on the pooled components. */
  lesionF1: PooledMetric;
  recall: PooledMetric;
  smallLesionRecall: PooledMetric;
  falsePositivesPerCase: PooledMetric;
  voxelDice: PooledMetric;
}

type Metric = (units: Unit[], cases: number) => number;

const METRICS: Record<"lesionDice" | "lesionF1" | "recall" | "smallLesionRecall" | "falsePositivesPerCase", Metric> = {
  lesionDice: (u) => {
    const refs = u.filter((x) => !x.falsePositive);
    return u.length ? refs.reduce((s, x) => s + x.dice, 0) / u.length : 1;
  },
  lesionF1: (u) => {
    const tp = u.filter((x) => x.detected).length;
    const fn = u.filter((x) => !x.falsePositive && !x.detected).length;
    const fp = u.filter((x) => x.falsePositive).length;
    return 2 * tp + fp + fn === 0 ? 1 : (2 * tp) / (2 * tp + fp + fn);
  },
  recall: (u) => {
    const refs = u.filter((x) => !x.falsePositive);
    return refs.length ? refs.filter((x) => x.detected).length / refs.length : Number.NaN;
  },
  smallLesionRecall: () => Number.NaN, // replaced per call (depends on the size threshold)
  falsePositivesPerCase: (u, cases) => u.filter((x) => x.falsePositive).length / Math.max(cases, 1),
};

function quantile(sorted: readonly number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  return sorted[lo] + (sorted[Math.ceil(pos)] - sorted[lo]) * (pos - lo);
}

function sd(values: number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / (values.length - 1));
}

/** Units of one evaluation (one seed), pooled over its cases, for one class. */
function unitsOf(e: Evaluation, cls: string): Unit[] {
  const units: Unit[] = [];
  for (const c of e.cases) {
    const k = c.classes[cls];
    if (!k) throw new Error(`case ${c.id} has no class ${cls} in its evaluation`);
    for (const l of k.lesions) units.push({ ...l, falsePositive: false });
    for (let i = 0; i < k.falsePositives; i++)
      units.push({ refVolumeMm3: 0, detected: false, dice: 0, falsePositive: true });
  }
  return units;
}

/**
 * Pooled lesion-level metrics of one arm: `evaluations` holds one evaluation per seed, all on the
 * same test cases.
 */
export function pooledLesionSummary(
  evaluations: Evaluation[],
  o: { cls?: string; smallMm3?: number; resamples?: number; seed?: number } = {},
): PooledSummary {
  if (evaluations.length === 0) throw new Error("pooledLesionSummary: no evaluations");
  const cls = o.cls ?? "1";
  const smallMm3 = o.smallMm3 ?? 100;
  const metrics: Record<string, Metric> = {
    ...METRICS,
    smallLesionRecall: (u) => {
      const small = u.filter((x) => !x.falsePositive && x.refVolumeMm3 < smallMm3);
      return small.length ? small.filter((x) => x.detected).length / small.length : Number.NaN;
    },
  };
  const perSeedUnits = evaluations.map((e) => unitsOf(e, cls));
  const cases = evaluations.map((e) => e.cases.length);
  const random = mulberry32(o.seed ?? 1234);
  const resamples = o.resamples ?? 2000;
  const boot: Record<string, number[]> = Object.fromEntries(Object.keys(metrics).map((k) => [k, []]));
  // Each resample is reduced to counts in one pass (an untrained model can leave 10⁵ false-positive units);
  // the draws and the order of the Dice sums are those of the metric functions above, so are the values.
  const columns = perSeedUnits.map((units) => ({
    falsePositive: Uint8Array.from(units, (u) => (u.falsePositive ? 1 : 0)),
    detected: Uint8Array.from(units, (u) => (u.detected ? 1 : 0)),
    small: Uint8Array.from(units, (u) => (!u.falsePositive && u.refVolumeMm3 < smallMm3 ? 1 : 0)),
    dice: Float64Array.from(units, (u) => u.dice),
  }));
  for (let b = 0; b < resamples; b++) {
    const values: Record<string, number[]> = Object.fromEntries(Object.keys(metrics).map((k) => [k, []]));
    columns.forEach((col, s) => {
      const n = col.dice.length;
      let refs = 0;
      let tp = 0;
      let small = 0;
      let smallDetected = 0;
      let diceSum = 0;
      for (let i = 0; i < n; i++) {
        const k = Math.floor(random() * n);
        if (col.falsePositive[k]) continue;
        refs++;
        tp += col.detected[k];
        diceSum += col.dice[k];
        if (col.small[k]) {
          small++;
          smallDetected += col.detected[k];
        }
      }
      const fp = n - refs;
      const fn = refs - tp;
      values.lesionDice.push(n ? diceSum / n : 1);
      values.lesionF1.push(2 * tp + fp + fn === 0 ? 1 : (2 * tp) / (2 * tp + fp + fn));
      values.recall.push(refs ? tp / refs : Number.NaN);
      values.smallLesionRecall.push(small ? smallDetected / small : Number.NaN);
      values.falsePositivesPerCase.push(fp / Math.max(cases[s], 1));
    });
    for (const [name, v] of Object.entries(values)) {
      const valid = v.filter((x) => !Number.isNaN(x));
      if (valid.length) boot[name].push(mean(valid));
    }
  }
  const summarizeMetric = (name: string): PooledMetric => {
    const perSeed = perSeedUnits.map((u, s) => metrics[name](u, cases[s]));
    const valid = perSeed.filter((v) => !Number.isNaN(v));
    const sorted = boot[name].sort((a, b) => a - b);
    return {
      value: valid.length ? mean(valid) : Number.NaN,
      ci: sorted.length ? [quantile(sorted, 0.025), quantile(sorted, 0.975)] : [Number.NaN, Number.NaN],
      perSeed,
      seedSd: sd(valid),
    };
  };
  const voxelDicePerSeed = evaluations.map((e) => mean(e.cases.map((c) => c.classes[cls].dice)));
  const refs = perSeedUnits[0].filter((u) => !u.falsePositive);
  return {
    seeds: evaluations.length,
    referenceLesions: refs.length,
    smallReferenceLesions: refs.filter((u) => u.refVolumeMm3 < smallMm3).length,
    smallMm3,
    lesionDice: summarizeMetric("lesionDice"),
    lesionF1: summarizeMetric("lesionF1"),
    recall: summarizeMetric("recall"),
    smallLesionRecall: summarizeMetric("smallLesionRecall"),
    falsePositivesPerCase: summarizeMetric("falsePositivesPerCase"),
    // Voxel Dice is a per-case quantity: mean over cases, spread over seeds only (no lesion bootstrap).
    voxelDice: {
      value: mean(voxelDicePerSeed),
      ci: [Number.NaN, Number.NaN],
      perSeed: voxelDicePerSeed,
      seedSd: sd(voxelDicePerSeed),
    },
  };
}
