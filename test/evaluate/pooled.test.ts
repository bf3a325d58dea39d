// Pooled lesion-level summaries: hand-computed point estimates over two seeds, and a bootstrap CI
// that matches the binomial normal approximation on a large sample.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Evaluation } from "../../src/evaluate/evaluate.js";
import { pooledLesionSummary } from "../../src/evaluate/pooled.js";
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
