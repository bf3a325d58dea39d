// The twin bench's summary: each arm's means over the (fold, seed) pairs that every arm finished, and
// ours/twin as ratios of means with a 95 % bootstrap interval over the pairs, overall and per fold, next
// to the goal of issue #14 (every seed learns in the first quarter, Dice ≥ the twin's, false positives ≤).
import { bootstrapRatioCI, mean } from "../../src/evaluate/stats.js";

/** What the summary reads of one (arm, fold, seed) row of `bench -- twin-train`. */
export interface TwinRow {
  arm: string;
  /** A fold's number, or "all" (every case trains and is tested: the fit, not generalisation). */
  fold: number | "all";
  seed: number;
  dice: number;
  lesionF1: number;
  lesionRecall: number;
  falsePositives: number;
  firstLearningEpoch: number | null;
  learnedInFirstQuarter: boolean;
  /** The test references' lesions per size bin (mm³) and how many of them the prediction found. */
  recallBySize?: SizeBinCount[];
}

export interface SizeBinCount {
  bin: string;
  lesions: number;
  found: number;
}

const METRICS = ["dice", "lesionF1", "lesionRecall", "falsePositives"] as const;
type Metric = (typeof METRICS)[number];

export interface RatioSummary {
  /** mean(ours) / mean(twin). */
  ratio: number;
  /** Percentile bootstrap over the pairs (20,000 resamples, fixed seed). */
  interval95: [number, number];
  /** Pairs where ours is at least as good (higher Dice, F1 and recall; fewer false positives). */
  atLeastAsGood: number;
}

export type Comparison = { runs: number } & Record<Metric, RatioSummary>;

export interface ArmSummary {
  runs: number;
  learned: number;
  learnedInFirstQuarter: number;
  dice: number;
  lesionF1: number;
  lesionRecall: number;
  falsePositives: number;
  /** Recall per lesion size bin, pooled over the arm's runs (only when every run has its counts). */
  recallBySize?: (SizeBinCount & { recall: number | null })[];
}

export interface TwinSummary {
  leftOutUnpaired?: string[];
  ours?: ArmSummary;
  twin?: ArmSummary;
  ratio?: Record<Metric, number>;
  pairs?: Comparison;
  perFold?: Record<string, Comparison>;
  /** What the overall ratios and the goal's Dice and false positives are over. */
  ratiosOver?: "held-out cases" | "training cases (fold all)";
  goal?: {
    pairs: number;
    everySeedLearnsInFirstQuarter: boolean;
    diceAtLeastTwin: boolean;
    falsePositivesAtMostTwin: boolean;
  };
}

function compare(pairs: [TwinRow, TwinRow][]): Comparison {
  const out = { runs: pairs.length } as Comparison;
  for (const m of METRICS) {
    const ours = pairs.map(([a]) => a[m]);
    const twin = pairs.map(([, b]) => b[m]);
    out[m] = {
      ratio: mean(ours) / mean(twin),
      interval95: bootstrapRatioCI(ours, twin, { resamples: 20000 }),
      atLeastAsGood: pairs.filter(([a, b]) => (m === "falsePositives" ? a[m] <= b[m] : a[m] >= b[m])).length,
    };
  }
  return out;
}

/** Found and total lesions per size bin summed over runs; {} unless every run has the same bins. */
function pooledRecallBySize(rows: readonly TwinRow[]): Pick<ArmSummary, "recallBySize"> {
  const first = rows[0]?.recallBySize;
  const bins = first?.map((b) => b.bin).join();
  if (!first || rows.some((r) => r.recallBySize?.map((b) => b.bin).join() !== bins)) return {};
  return {
    recallBySize: first.map(({ bin }, k) => {
      const lesions = rows.reduce((s, r) => s + (r.recallBySize as SizeBinCount[])[k].lesions, 0);
      const found = rows.reduce((s, r) => s + (r.recallBySize as SizeBinCount[])[k].found, 0);
      return { bin, lesions, found, recall: lesions > 0 ? found / lesions : null };
    }),
  };
}

export function twinSummary(rows: readonly TwinRow[], arms: readonly ("ours" | "twin")[]): TwinSummary {
  const summary: TwinSummary = {};
  // Only pairs that every arm finished enter the means (a deadline can leave one arm short).
  const complete = (r: TwinRow) =>
    arms.every((a) => rows.some((x) => x.arm === a && x.fold === r.fold && x.seed === r.seed));
  const unpaired = rows.filter((r) => !complete(r));
  if (unpaired.length > 0) summary.leftOutUnpaired = unpaired.map((r) => `${r.arm}-fold${r.fold}-seed${r.seed}`);
  const by = (arm: string) => rows.filter((r) => r.arm === arm && complete(r));
  for (const arm of arms) {
    const r = by(arm);
    summary[arm] = {
      runs: r.length,
      learned: r.filter((x) => x.firstLearningEpoch !== null).length,
      learnedInFirstQuarter: r.filter((x) => x.learnedInFirstQuarter).length,
      dice: mean(r.map((x) => x.dice)),
      lesionF1: mean(r.map((x) => x.lesionF1)),
      lesionRecall: mean(r.map((x) => x.lesionRecall)),
      falsePositives: mean(r.map((x) => x.falsePositives)),
      ...pooledRecallBySize(r),
    };
  }
  if (!(arms.includes("ours") && arms.includes("twin"))) return summary;
  const ours = by("ours");
  const twins = by("twin");
  const pairs = ours.map(
    (r) => [r, twins.find((x) => x.fold === r.fold && x.seed === r.seed) as TwinRow] as [TwinRow, TwinRow],
  );
  // Fold "all" scores the training cases themselves: its learning counts, its Dice and false positives
  // (the fit) do not mix with held-out folds'.
  const heldOut = pairs.filter(([r]) => r.fold !== "all");
  const all = compare(heldOut.length > 0 ? heldOut : pairs);
  summary.ratiosOver = heldOut.length > 0 || pairs.length === 0 ? "held-out cases" : "training cases (fold all)";
  summary.ratio = Object.fromEntries(METRICS.map((m) => [m, all[m].ratio])) as Record<Metric, number>;
  summary.pairs = all;
  summary.perFold = Object.fromEntries(
    [...new Set(pairs.map(([r]) => r.fold))]
      .sort((a, b) => String(a).localeCompare(String(b), "en", { numeric: true }))
      .map((fold) => [fold, compare(pairs.filter(([r]) => r.fold === fold))]),
  );
  summary.goal = {
    pairs: pairs.length,
    everySeedLearnsInFirstQuarter: pairs.length > 0 && ours.every((x) => x.learnedInFirstQuarter),
    diceAtLeastTwin: pairs.length > 0 && all.dice.ratio >= 1,
    falsePositivesAtMostTwin: pairs.length > 0 && all.falsePositives.ratio <= 1,
  };
  return summary;
}
