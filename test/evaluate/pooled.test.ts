// Pooled lesion-level summaries: hand-computed point estimates over two seeds, and a bootstrap CI
// that matches the binomial normal approximation on a large sample.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Evaluation } from "../../src/evaluate/evaluate.js";
import { pooledLesionSummary } from "../../src/evaluate/pooled.js";
import { mulberry32 } from "../../src/util/random.js";
import { assertClose } from "../helpers/assert.js";

type Lesion = [volume: number, dice: number];

function evaluation(cases: { lesions: Lesion[]; fp: number; dice?: number }[]): Evaluation {
  return {
    tolerancesMm: 1,
    minOverlap: 0,
    classes: [1],
    cases: cases.map((c, i) => ({
      id: `case_${i}`,
      classes: {
        "1": {
          dice: c.dice ?? 0.5,
          falsePositives: c.fp,
          lesions: c.lesions.map(([refVolumeMm3, dice]) => ({ refVolumeMm3, dice, detected: dice > 0 })),
        },
      },
    })),
  } as unknown as Evaluation;
}

test("pooled lesion metrics equal hand-computed values and their seed spread", () => {
  const seedA = evaluation([
    {
      lesions: [
        [10, 0.8],
        [50, 0],
      ],
      fp: 1,
      dice: 0.4,
    },
    { lesions: [[200, 0.6]], fp: 0, dice: 0.6 },
  ]);
  const seedB = evaluation([
    {
      lesions: [
        [10, 0],
        [50, 0.5],
      ],
      fp: 3,
      dice: 0.3,
    },
    { lesions: [[200, 0.7]], fp: 1, dice: 0.5 },
  ]);
  const s = pooledLesionSummary([seedA, seedB], { smallMm3: 100, resamples: 500 });
  // Seed A: 3 references (2 detected) + 1 FP; seed B: 3 references (2 detected) + 4 FPs.
  assertClose(s.lesionDice.perSeed, [1.4 / 4, 1.2 / 7], 1e-12, 1e-12, "lesion Dice");
  assertClose(s.lesionF1.perSeed, [4 / 6, 4 / 9], 1e-12, 1e-12, "F1");
  assertClose(s.recall.perSeed, [2 / 3, 2 / 3], 1e-12, 1e-12, "recall");
  assertClose(s.smallLesionRecall.perSeed, [0.5, 0.5], 1e-12, 1e-12, "small recall");
  assertClose(s.falsePositivesPerCase.perSeed, [0.5, 2], 1e-12, 1e-12, "FP per case");
  assertClose([s.lesionF1.value, s.lesionF1.seedSd], [(4 / 6 + 4 / 9) / 2, (4 / 6 - 4 / 9) / Math.SQRT2], 1e-12, 1e-12);
  assertClose([s.voxelDice.value], [0.45], 1e-12, 1e-12, "voxel Dice");
  assert.deepEqual([s.referenceLesions, s.smallReferenceLesions, s.seeds], [3, 2, 2]);
  for (const m of [s.lesionDice, s.lesionF1, s.recall]) assert.ok(m.ci[0] <= m.value && m.value <= m.ci[1]);
});

test("the bootstrap CI of pooled recall matches the binomial normal approximation", () => {
  // 400 references, 120 detected, no false positives: recall 0.3 ± 1.96·sqrt(0.3·0.7/400).
  const lesions: Lesion[] = Array.from({ length: 400 }, (_, i) => [20, i < 120 ? 0.7 : 0]);
  const s = pooledLesionSummary([evaluation([{ lesions, fp: 0 }])], { resamples: 4000 });
  const half = 1.96 * Math.sqrt((0.3 * 0.7) / 400);
  assertClose(s.recall.ci, [0.3 - half, 0.3 + half], 0, 0.006, "recall CI");
  // Everything detected and nothing false: a degenerate interval.
  const perfect = pooledLesionSummary(
    [
      evaluation([
        {
          lesions: [
            [5, 1],
            [8, 1],
          ],
          fp: 0,
        },
      ]),
    ],
    { resamples: 200 },
  );
  assert.deepEqual(perfect.lesionF1.ci, [1, 1]);
});

test("the bootstrap CIs equal a direct resampling of the units with the same draws", () => {
  // Two seeds with detected, missed, small and false-positive units; the reference resamples unit lists
  // and recomputes each metric from its definition.
  const seeds = [
    evaluation([
      {
        lesions: [
          [10, 0.8],
          [50, 0],
          [20, 0.3],
          [400, 0.9],
        ],
        fp: 3,
      },
      {
        lesions: [
          [5, 0],
          [200, 0.6],
        ],
        fp: 1,
      },
    ]),
    evaluation([
      {
        lesions: [
          [10, 0],
          [50, 0.7],
          [20, 0.3],
          [400, 0.95],
        ],
        fp: 0,
      },
      {
        lesions: [
          [5, 0.2],
          [200, 0],
        ],
        fp: 5,
      },
    ]),
  ];
  const resamples = 300;
  const summary = pooledLesionSummary(seeds, { smallMm3: 30, resamples, seed: 7 });
  type U = { v: number; dice: number; detected: boolean; fp: boolean };
  const units: U[][] = seeds.map((e) =>
    e.cases.flatMap((c) => [
      ...c.classes["1"].lesions.map((l) => ({ v: l.refVolumeMm3, dice: l.dice, detected: l.detected, fp: false })),
      ...Array.from({ length: c.classes["1"].falsePositives }, () => ({ v: 0, dice: 0, detected: false, fp: true })),
    ]),
  );
  const metric = {
    lesionDice: (u: U[]) => u.filter((x) => !x.fp).reduce((s, x) => s + x.dice, 0) / u.length,
    lesionF1: (u: U[]) => {
      const tp = u.filter((x) => x.detected).length;
      return (2 * tp) / (2 * tp + u.filter((x) => x.fp).length + u.filter((x) => !x.fp && !x.detected).length);
    },
    recall: (u: U[]) => u.filter((x) => x.detected).length / u.filter((x) => !x.fp).length,
    smallLesionRecall: (u: U[]) => {
      const small = u.filter((x) => !x.fp && x.v < 30);
      return small.length ? small.filter((x) => x.detected).length / small.length : Number.NaN;
    },
    falsePositivesPerCase: (u: U[]) => u.filter((x) => x.fp).length / 2,
  };
  const random = mulberry32(7);
  const boot: Record<string, number[]> = Object.fromEntries(Object.keys(metric).map((k) => [k, []]));
  for (let b = 0; b < resamples; b++) {
    const drawn = units.map((u) => u.map(() => u[Math.floor(random() * u.length)]));
    for (const [name, f] of Object.entries(metric)) {
      const v = drawn.map(f).filter((x) => !Number.isNaN(x));
      if (v.length) boot[name].push(v.reduce((a, c) => a + c, 0) / v.length);
    }
  }
  for (const name of Object.keys(metric) as (keyof typeof metric)[]) {
    const sorted = boot[name].sort((a, b) => a - b);
    const q = (p: number) => {
      const pos = p * (sorted.length - 1);
      const lo = Math.floor(pos);
      return sorted[lo] + (sorted[Math.ceil(pos)] - sorted[lo]) * (pos - lo);
    };
    assert.deepEqual(summary[name].ci, [q(0.025), q(0.975)], name);
  }
});
