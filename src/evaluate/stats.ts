// Paired statistics for comparing two prediction sets case by case: bootstrap confidence interval of
// the mean difference, Wilcoxon signed-rank test (scipy's conventions), win/tie/loss counts.
import { mulberry32 } from "../util/random.js";

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function quantile(sorted: readonly number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  return sorted[lo] + (sorted[Math.ceil(pos)] - sorted[lo]) * (pos - lo);
}

/** Percentile bootstrap CI of the mean (resampling values with replacement, seeded). */
export function bootstrapCI(
  values: readonly number[],
  o: { resamples?: number; level?: number; seed?: number } = {},
): [number, number] {
  const n = values.length;
  if (n === 0) return [Number.NaN, Number.NaN];
  const b = o.resamples ?? 10000;
  const random = mulberry32(o.seed ?? 1234);
  const means = new Float64Array(b);
  for (let i = 0; i < b; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += values[Math.floor(random() * n)];
    means[i] = s / n;
  }
  means.sort();
  const alpha = (1 - (o.level ?? 0.95)) / 2;
  return [quantile(Array.from(means), alpha), quantile(Array.from(means), 1 - alpha)];
}

/**
 * Percentile bootstrap CI of the ratio of two means over paired runs (mean(numerators) /
 * mean(denominators)), resampling the pairs with replacement, seeded: how far "ours/twin" could move
 * with other runs. Resamples whose denominator mean is not positive are dropped.
 */
export function bootstrapRatioCI(
  numerators: readonly number[],
  denominators: readonly number[],
  o: { resamples?: number; level?: number; seed?: number } = {},
): [number, number] {
  const n = numerators.length;
  if (n !== denominators.length) throw new Error(`paired samples differ in size (${n} vs ${denominators.length})`);
  if (n === 0) return [Number.NaN, Number.NaN];
  const b = o.resamples ?? 10000;
  const random = mulberry32(o.seed ?? 1234);
  const ratios: number[] = [];
  for (let i = 0; i < b; i++) {
    let top = 0;
    let bottom = 0;
    for (let j = 0; j < n; j++) {
      const k = Math.floor(random() * n);
      top += numerators[k];
      bottom += denominators[k];
    }
    if (bottom > 0) ratios.push(top / bottom);
  }
  if (ratios.length === 0) return [Number.NaN, Number.NaN];
  ratios.sort((x, y) => x - y);
  const alpha = (1 - (o.level ?? 0.95)) / 2;
  return [quantile(ratios, alpha), quantile(ratios, 1 - alpha)];
}

function normalSf(z: number): number {
  // Upper tail of the standard normal via erfc (Abramowitz–Stegun 7.1.26 is too coarse; use a series/continued fraction).
  return 0.5 * erfc(z / Math.SQRT2);
}

function erfc(x: number): number {
  // Numerical Recipes' erfcc (Chebyshev), relative error < 1.2e-7.
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Ranks with ties averaged (1-based). */
function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[order[k][1]] = r;
    i = j + 1;
  }
  return out;
}

/**
 * Two-sided Wilcoxon signed-rank test of paired differences, as scipy.stats.wilcoxon (zero_method
 * "wilcox", no continuity correction): exact null distribution for n ≤ 50 without zeros, else the
 * normal approximation with zeros dropped and a tie correction.
 */
export function wilcoxon(differences: readonly number[]): { statistic: number; pValue: number; exact: boolean } {
  const hasZeros = differences.some((d) => d === 0);
  const d = differences.filter((v) => v !== 0);
  const n = d.length;
  if (n === 0) return { statistic: 0, pValue: 1, exact: false };
  const r = ranks(d.map(Math.abs));
  let plus = 0;
  let minus = 0;
  d.forEach((v, i) => {
    if (v > 0) plus += r[i];
    else minus += r[i];
  });
  const statistic = Math.min(plus, minus);
  if (differences.length <= 50 && !hasZeros) {
    // Distribution of the positive rank sum over all 2^n sign patterns.
    const max = (n * (n + 1)) / 2;
    let counts = new Float64Array(max + 1);
    counts[0] = 1;
    for (let k = 1; k <= n; k++) {
      const next = new Float64Array(max + 1);
      for (let s = 0; s <= max; s++) {
        if (!counts[s]) continue;
        next[s] += counts[s];
        if (s + k <= max) next[s + k] += counts[s];
      }
      counts = next;
    }
    const total = 2 ** n;
    let cdf = 0;
    for (let s = 0; s <= Math.floor(statistic); s++) cdf += counts[s];
    return { statistic, pValue: Math.min(1, (2 * cdf) / total), exact: true };
  }
  const meanW = (n * (n + 1)) / 4;
  let variance = (n * (n + 1) * (2 * n + 1)) / 24;
  const tieCounts = new Map<number, number>();
  for (const x of r) tieCounts.set(x, (tieCounts.get(x) ?? 0) + 1);
  for (const t of tieCounts.values()) variance -= (t * t * t - t) / 48;
  const z = (statistic - meanW) / Math.sqrt(variance);
  return { statistic, pValue: Math.min(1, 2 * normalSf(Math.abs(z))), exact: false };
}

export interface PairedSummary {
  n: number;
  meanA: number;
  meanB: number;
  meanDifference: number;
  medianDifference: number;
  ci95: [number, number];
  pValue: number;
  wins: number;
  ties: number;
  losses: number;
}

/** B − A per pair; "win" means B is better, given whether larger is better for this metric. */
export function pairedSummary(
  a: readonly number[],
  b: readonly number[],
  largerIsBetter = true,
  seed = 1234,
): PairedSummary {
  if (a.length !== b.length) throw new Error(`paired samples differ in size (${a.length} vs ${b.length})`);
  const diffs = a.map((v, i) => b[i] - v);
  const better = diffs.map((d) => (largerIsBetter ? d : -d));
  return {
    n: diffs.length,
    meanA: mean(a),
    meanB: mean(b),
    meanDifference: mean(diffs),
    medianDifference: median(diffs),
    ci95: bootstrapCI(diffs, { seed }),
    pValue: wilcoxon(diffs).pValue,
    wins: better.filter((d) => d > 1e-12).length,
    ties: better.filter((d) => Math.abs(d) <= 1e-12).length,
    losses: better.filter((d) => d < -1e-12).length,
  };
}
