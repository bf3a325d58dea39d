// Plots as Vega-Lite specifications rendered to SVG in Node (no browser, no network), for the report.
import type { TopLevelSpec } from "vega-lite";
import type { Comparison, Evaluation } from "../evaluate/evaluate.js";

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const vl = await import("vega-lite");
  const vega = await import("vega");
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

const FONT = { config: { font: "Helvetica, Arial, sans-serif", view: { stroke: "#ddd" } } };

/** Per-case values of one metric for both arms, joined by a line per case. */
export function pairedDotsSpec(
  a: Evaluation,
  b: Evaluation,
  names: [string, string],
  cls: string,
  metric: string,
): TopLevelSpec {
  const values = a.cases.flatMap((ca) => {
    const cb = b.cases.find((c) => c.id === ca.id);
    if (!cb) return [];
    return [
      { case: ca.id, arm: names[0], value: ca.classes[cls][metric as "dice"] },
      { case: ca.id, arm: names[1], value: cb.classes[cls][metric as "dice"] },
    ];
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: `${metric} per case`,
    width: 220,
    height: 220,
    data: { values },
    layer: [
      {
        mark: { type: "line", color: "#bbb" },
        encoding: {
          x: { field: "arm", type: "nominal", sort: names, title: null },
          y: { field: "value", type: "quantitative", title: metric },
          detail: { field: "case" },
        },
      },
      {
        mark: { type: "point", filled: true, size: 50 },
        encoding: {
          x: { field: "arm", type: "nominal", sort: names },
          y: { field: "value", type: "quantitative" },
          color: {
            field: "arm",
            type: "nominal",
            scale: { domain: names, range: ["#D55E00", "#56B4E9"] },
            legend: null,
          },
          tooltip: [{ field: "case" }, { field: "value" }],
        },
      },
    ],
    ...FONT,
  } as TopLevelSpec;
}

/** Lesion recall per reference-size bin, both arms side by side. */
export function recallBySizeSpec(c: Comparison, cls: string): TopLevelSpec {
  const values = c.perClass[cls].sizeBins.flatMap((b) => [
    { bin: b.bin, arm: c.a, recall: b.recallA },
    { bin: b.bin, arm: c.b, recall: b.recallB },
  ]);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "lesion recall by reference lesion size (mm³)",
    width: 320,
    height: 220,
    data: { values },
    mark: "bar",
    encoding: {
      x: {
        field: "bin",
        type: "nominal",
        sort: c.perClass[cls].sizeBins.map((b) => b.bin),
        title: "lesion volume (mm³)",
      },
      xOffset: { field: "arm", sort: [c.a, c.b] },
      y: { field: "recall", type: "quantitative", scale: { domain: [0, 1] } },
      color: { field: "arm", type: "nominal", scale: { domain: [c.a, c.b], range: ["#D55E00", "#56B4E9"] } },
    },
    ...FONT,
  } as TopLevelSpec;
}

export interface CurveRow {
  run: string;
  epoch: number;
  trainLoss: number;
  pseudoDice: number;
}

/** Training loss and validation pseudo-Dice per epoch for every run. */
export function trainingCurvesSpec(rows: CurveRow[]): TopLevelSpec {
  const long = rows.flatMap((r) => [
    { run: r.run, epoch: r.epoch, series: "training loss", value: r.trainLoss },
    { run: r.run, epoch: r.epoch, series: "validation pseudo-Dice", value: r.pseudoDice },
  ]);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    data: { values: long },
    facet: { column: { field: "series", type: "nominal", title: null } },
    spec: {
      width: 280,
      height: 200,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "epoch", type: "quantitative" },
        y: { field: "value", type: "quantitative", title: null },
        color: { field: "run", type: "nominal" },
      },
    },
    resolve: { scale: { y: "independent" } },
    ...FONT,
  } as TopLevelSpec;
}

export interface FisherCurveRow {
  run: string;
  epoch: number;
  gradNormVariance: number;
  traceY: number;
  traceZ: number;
  logitGap: number;
}

/** Per epoch and run: gradient-norm variance, Monte Carlo tr I_Y and tr I_Z, logit-space gap per voxel. */
export function fisherCurvesSpec(rows: FisherCurveRow[]): TopLevelSpec {
  const long = rows.flatMap((r) => [
    { run: r.run, epoch: r.epoch, series: "gradient-norm variance", value: r.gradNormVariance },
    { run: r.run, epoch: r.epoch, series: "tr I_Y (split, MC)", value: r.traceY },
    { run: r.run, epoch: r.epoch, series: "tr I_Z (binary, MC)", value: r.traceZ },
    { run: r.run, epoch: r.epoch, series: "logit-space gap per voxel", value: r.logitGap },
  ]);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    data: { values: long.filter((d) => Number.isFinite(d.value) && d.value > 0) },
    facet: { column: { field: "series", type: "nominal", title: null } },
    spec: {
      width: 220,
      height: 180,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "epoch", type: "quantitative" },
        y: { field: "value", type: "quantitative", title: null, scale: { type: "log" } },
        color: { field: "run", type: "nominal" },
      },
    },
    resolve: { scale: { y: "independent" } },
    ...FONT,
  } as TopLevelSpec;
}
