// `backsplit evaluate` and `backsplit compare`: metrics per case and lesion class, summaries, and the
// paired comparison of two prediction sets.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { IMAGE_ENDINGS, readVolume } from "../io/read.js";
import { geometryDifference } from "../io/volume.js";
import { DEFAULT_BINS_MM3, type LesionMatch, lesionMetrics, sizeStratified, voxelMetrics } from "./metrics.js";
import { type PairedSummary, bootstrapCI, mean, pairedSummary } from "./stats.js";

export interface ClassEvaluation {
  dice: number;
  iou: number;
  hd95Mm: number;
  nsd: number;
  volumeDifferenceMm3: number;
  precision: number;
  recall: number;
  f1: number;
  lesionDice: number;
  falsePositives: number;
  tp: number;
  fn: number;
  lesions: LesionMatch[];
}

export interface Evaluation {
  tolerancesMm: number;
  minOverlap: number;
  binsMm3: number[];
  classes: number[];
  cases: { id: string; classes: Record<string, ClassEvaluation> }[];
}

/** Metrics reported per case; the boolean says whether larger is better. */
export const METRICS: [keyof ClassEvaluation, boolean][] = [
  ["dice", true],
  ["iou", true],
  ["hd95Mm", false],
  ["nsd", true],
  ["f1", true],
  ["precision", true],
  ["recall", true],
  ["lesionDice", true],
  ["falsePositives", false],
];

function caseFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const ending = IMAGE_ENDINGS.find((e) => name.endsWith(e));
    if (ending && !/_(prob|classes)$/.test(name.slice(0, -ending.length)))
      out.set(name.slice(0, -ending.length), path.join(dir, name));
  }
  return out;
}

/** The reference cases to evaluate: all of them, or the named ones (an unknown name is an error). */
function selectCases(refs: Map<string, string>, refDir: string, cases: string[] | undefined): Map<string, string> {
  if (!cases) return refs;
  const unknown = cases.filter((id) => !refs.has(id));
  if (unknown.length) throw new Error(`${refDir}: no reference label map for case ${unknown.join(", ")}`);
  const wanted = new Set(cases);
  return new Map([...refs].filter(([id]) => wanted.has(id)));
}

/** A saved evaluation cut to the named cases, in its own order (an unknown name is an error). */
export function evaluationOfCases(e: Evaluation, cases: string[], source: string): Evaluation {
  const unknown = cases.filter((id) => !e.cases.some((c) => c.id === id));
  if (unknown.length) throw new Error(`${source}: no evaluated case ${unknown.join(", ")}`);
  return { ...e, cases: e.cases.filter((c) => cases.includes(c.id)) };
}

export async function evaluateFolders(
  predDir: string,
  refDir: string,
  o: {
    toleranceMm?: number;
    minOverlap?: number;
    bins?: number[];
    classes?: number[];
    /** Only these cases of the reference folder (e.g. one fold's test cases); every one must be there. */
    cases?: string[];
    onCase?: (id: string) => void;
  } = {},
): Promise<Evaluation> {
  const refs = selectCases(caseFiles(refDir), refDir, o.cases);
  const preds = caseFiles(predDir);
  if (refs.size === 0) throw new Error(`${refDir}: no reference label maps`);
  const missing = [...refs.keys()].filter((id) => !preds.has(id));
  if (missing.length)
    throw new Error(
      `${predDir}: no prediction for ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ` and ${missing.length - 5} more` : ""} (--cases evaluates a subset of the references)`,
    );
  const toleranceMm = o.toleranceMm ?? 1;
  const bins = o.bins ?? DEFAULT_BINS_MM3;
  const loaded: {
    id: string;
    pred: Awaited<ReturnType<typeof readVolume>>;
    ref: Awaited<ReturnType<typeof readVolume>>;
  }[] = [];
  const values = new Set<number>();
  for (const [id, refFile] of refs) {
    const ref = await readVolume(refFile);
    const pred = await readVolume(preds.get(id)!);
    const d = geometryDifference(pred, ref);
    if (!d.shape)
      throw new Error(
        `${preds.get(id)}: shape ${pred.shape.join("×")} differs from the reference ${ref.shape.join("×")}`,
      );
    if (d.spacing > 1e-3 || d.origin > 1e-3)
      throw new Error(
        `${preds.get(id)}: geometry differs from the reference (spacing or origin off by more than 0.001 mm)`,
      );
    if (d.direction > 1e-4)
      throw new Error(
        `${preds.get(id)}: direction differs from the reference (a flipped or rotated image; off by ${d.direction.toFixed(4)})`,
      );
    for (const [file, v] of [
      [preds.get(id)!, pred],
      [refFile, ref],
    ] as const) {
      const bad = v.data.findIndex((x) => !Number.isInteger(x));
      if (bad >= 0)
        throw new Error(
          `${file}: label values must be integers, found ${v.data[bad]} (a probability map? evaluate the thresholded mask)`,
        );
    }
    if (!o.classes) for (const v of ref.data) if (v) values.add(v);
    loaded.push({ id, pred, ref });
  }
  const classes = o.classes ?? (values.size ? [...values].sort((a, b) => a - b) : [1]);
  const cases: Evaluation["cases"] = [];
  for (const { id, pred, ref } of loaded) {
    const perClass: Record<string, ClassEvaluation> = {};
    for (const c of classes) {
      const p = Uint8Array.from(pred.data, (v) => (v === c ? 1 : 0));
      const r = Uint8Array.from(ref.data, (v) => (v === c ? 1 : 0));
      const vm = voxelMetrics(p, r, ref.shape, ref.spacing, toleranceMm);
      const lm = lesionMetrics(p, r, ref.shape, ref.spacing, o.minOverlap ?? 0);
      perClass[String(c)] = {
        dice: vm.dice,
        iou: vm.iou,
        hd95Mm: vm.hd95Mm,
        nsd: vm.nsd,
        volumeDifferenceMm3: vm.volumeDifferenceMm3,
        precision: lm.precision,
        recall: lm.recall,
        f1: lm.f1,
        lesionDice: lm.lesionDice,
        falsePositives: lm.falsePositives,
        tp: lm.tp,
        fn: lm.fn,
        lesions: lm.lesions,
      };
    }
    cases.push({ id, classes: perClass });
    o.onCase?.(id);
  }
  return { tolerancesMm: toleranceMm, minOverlap: o.minOverlap ?? 0, binsMm3: bins, classes, cases };
}

export interface EvaluationSummary {
  perClass: Record<string, { means: Record<string, number>; sizeBins: ReturnType<typeof sizeStratified> }>;
  /** Each metric's mean over the lesion classes (multi-lesion datasets). */
  meanOverClasses: Record<string, number>;
}

export function summarize(e: Evaluation): EvaluationSummary {
  const perClass: EvaluationSummary["perClass"] = {};
  for (const c of e.classes.map(String)) {
    const rows = e.cases.map((k) => k.classes[c]);
    const means = Object.fromEntries(METRICS.map(([m]) => [m, mean(rows.map((r) => r[m] as number))]));
    perClass[c] = {
      means,
      sizeBins: sizeStratified(
        rows.flatMap((r) => r.lesions),
        e.binsMm3,
      ),
    };
  }
  const meanOverClasses = Object.fromEntries(
    METRICS.map(([m]) => [m, mean(Object.values(perClass).map((c) => c.means[m]))]),
  );
  return { perClass, meanOverClasses };
}

export function toCsv(e: Evaluation): string {
  const header = ["case", "class", ...METRICS.map(([m]) => m), "volumeDifferenceMm3", "tp", "fn"];
  const lines = [header.join(",")];
  for (const k of e.cases) {
    for (const [c, r] of Object.entries(k.classes)) {
      lines.push([k.id, c, ...METRICS.map(([m]) => r[m]), r.volumeDifferenceMm3, r.tp, r.fn].join(","));
    }
  }
  return `${lines.join("\n")}\n`;
}

export interface Comparison {
  a: string;
  b: string;
  cases: string[];
  perClass: Record<
    string,
    {
      metrics: Record<string, PairedSummary>;
      sizeBins: {
        bin: string;
        recallA: number | null;
        recallB: number | null;
        difference: number | null;
        ci95: [number, number] | null;
      }[];
    }
  >;
}

/** Paired comparison (B − A) over the cases both evaluations share. */
export function compareEvaluations(
  a: Evaluation,
  b: Evaluation,
  names: [string, string] = ["A", "B"],
  seed = 1234,
): Comparison {
  const ids = a.cases.map((c) => c.id).filter((id) => b.cases.some((k) => k.id === id));
  if (ids.length === 0) throw new Error("the two evaluations share no case");
  const byId = (e: Evaluation) => new Map(e.cases.map((c) => [c.id, c]));
  const ma = byId(a);
  const mb = byId(b);
  const perClass: Comparison["perClass"] = {};
  for (const c of a.classes.map(String).filter((c) => b.classes.map(String).includes(c))) {
    const rowsA = ids.map((id) => ma.get(id)!.classes[c]);
    const rowsB = ids.map((id) => mb.get(id)!.classes[c]);
    const metrics = Object.fromEntries(
      METRICS.map(([m, larger]) => [
        m,
        pairedSummary(
          rowsA.map((r) => r[m] as number),
          rowsB.map((r) => r[m] as number),
          larger,
          seed,
        ),
      ]),
    );
    // Recall per size bin, pooled over lesions; the interval resamples cases.
    const binsA = rowsA.map((r) => sizeStratified(r.lesions, a.binsMm3));
    const binsB = rowsB.map((r) => sizeStratified(r.lesions, a.binsMm3));
    const pooledA = sizeStratified(
      rowsA.flatMap((r) => r.lesions),
      a.binsMm3,
    );
    const pooledB = sizeStratified(
      rowsB.flatMap((r) => r.lesions),
      a.binsMm3,
    );
    const sizeBins = pooledA.map((pa, k) => {
      const pb = pooledB[k];
      const perCase = binsA
        .map((bA, i) =>
          bA[k].recall !== null && binsB[i][k].recall !== null ? binsB[i][k].recall! - bA[k].recall! : null,
        )
        .filter((v): v is number => v !== null);
      return {
        bin: pa.bin,
        recallA: pa.recall,
        recallB: pb.recall,
        difference: pa.recall !== null && pb.recall !== null ? pb.recall - pa.recall : null,
        ci95: perCase.length ? bootstrapCI(perCase, { seed }) : null,
      };
    });
    perClass[c] = { metrics, sizeBins };
  }
  return { a: names[0], b: names[1], cases: ids, perClass };
}

export function isEvaluationFile(p: string): boolean {
  return existsSync(p) && p.endsWith(".json");
}
