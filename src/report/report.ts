// The comparison report: one self-contained HTML file (inline SVG plots, base64 PNG montages, tables;
// nothing fetched when opened), the same numbers as JSON and CSV, and a Markdown summary.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { type Comparison, type Evaluation, METRICS } from "../evaluate/evaluate.js";
import { type FisherResult, fisherMarkdown } from "../fisher/summary.js";
import { RUN_STALLED_START, TrainingRun } from "../run/record.js";
import type { EpochLog } from "../train/trainer.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import { OVERLAY_COLORS, renderHeatSlice, renderMontage } from "./montage.js";
import {
  type CurveRow,
  type FisherCurveRow,
  fisherCurvesSpec,
  pairedDotsSpec,
  recallBySizeSpec,
  renderSvg,
  trainingCurvesSpec,
} from "./plots.js";

export interface ReportInput {
  title: string;
  comparison: Comparison;
  a: Evaluation;
  b: Evaluation;
  /** Training logs (log.jsonl) by run name, for the curves. */
  logs?: Record<string, string>;
  /** For montages: per case, the image (first channel), reference and the two prediction files. */
  montages?: { id: string; image: string; reference: string; predictionA: string; predictionB: string }[];
  /** Extra facts shown at the top (command, machine, budget…). */
  facts?: Record<string, string>;
  /** `backsplit fisher` results to show (trace table, voxel map on a slice), with the map case's image. */
  fisher?: { name: string; result: FisherResult; image?: string }[];
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const fmt = (v: number | null | undefined, d = 3) =>
  v === null || v === undefined || Number.isNaN(v) ? "–" : v.toFixed(d);

/** The comparison as Markdown tables (printed to the terminal and embedded in the report). */
export function markdownSummary(c: Comparison): string {
  const out: string[] = [];
  for (const [cls, { metrics, sizeBins }] of Object.entries(c.perClass)) {
    out.push(`### class ${cls}: ${c.b} − ${c.a}, ${c.cases.length} paired cases`, "");
    out.push(
      `| metric | ${c.a} | ${c.b} | mean Δ [95 % CI] | median Δ | Wilcoxon p | win/tie/loss |`,
      "|---|---|---|---|---|---|---|",
    );
    for (const [m, s] of Object.entries(metrics)) {
      out.push(
        `| ${m} | ${fmt(s.meanA)} | ${fmt(s.meanB)} | ${fmt(s.meanDifference)} [${fmt(s.ci95[0])}, ${fmt(s.ci95[1])}] | ${fmt(s.medianDifference)} | ${fmt(s.pValue, 4)} | ${s.wins}/${s.ties}/${s.losses} |`,
      );
    }
    out.push("", `| lesion size (mm³) | recall ${c.a} | recall ${c.b} | Δ [95 % CI over cases] |`, "|---|---|---|---|");
    for (const b of sizeBins)
      out.push(
        `| ${b.bin} | ${fmt(b.recallA)} | ${fmt(b.recallB)} | ${fmt(b.difference)} ${b.ci95 ? `[${fmt(b.ci95[0])}, ${fmt(b.ci95[1])}]` : ""} |`,
      );
    out.push("");
  }
  return out.join("\n");
}

function table(markdown: string): string {
  // Our own Markdown tables → HTML (header row, separator, rows).
  const blocks = markdown.split("\n\n");
  return blocks
    .map((block) => {
      const lines = block.trim().split("\n");
      if (lines[0]?.startsWith("###")) return `<h3>${esc(lines[0].slice(4))}</h3>`;
      if (!lines[0]?.startsWith("|")) return "";
      const cells = (l: string) =>
        l
          .split("|")
          .slice(1, -1)
          .map((c) => c.trim());
      const head = `<tr>${cells(lines[0])
        .map((c) => `<th>${esc(c)}</th>`)
        .join("")}</tr>`;
      const rows = lines
        .slice(2)
        .map(
          (l) =>
            `<tr>${cells(l)
              .map((c) => `<td>${esc(c)}</td>`)
              .join("")}</tr>`,
        )
        .join("");
      return `<table>${head}${rows}</table>`;
    })
    .join("\n");
}

export function perCaseCsv(r: ReportInput): string {
  const lines = [`case,class,arm,${METRICS.map(([m]) => m).join(",")}`];
  for (const [name, e] of [
    [r.comparison.a, r.a],
    [r.comparison.b, r.b],
  ] as const) {
    for (const k of e.cases)
      for (const [cls, v] of Object.entries(k.classes))
        lines.push([k.id, cls, name, ...METRICS.map(([m]) => v[m])].join(","));
  }
  return `${lines.join("\n")}\n`;
}

/** Names the runs that started over after a stalled start (their curves show the new start only). */
function restartNote(logs: Record<string, string>): string {
  const restarted = Object.entries(logs).flatMap(([run, file]) => {
    const training = new TrainingRun(path.dirname(file));
    const aside = training.stalledStartLog();
    if (!aside.length) return [];
    const record = training.recordOrNull();
    const warmup = record?.config?.backgroundWarmupEpochs;
    const start = record?.lesionPrior ? `; lesion start ${+(record.lesionPrior * 100).toPrecision(3)} %` : "";
    return [`${run} (after ${aside.length} epochs${start}${warmup ? `; background warm-up ${warmup} epochs` : ""})`];
  });
  if (restarted.length === 0) return "";
  return `<p class="warning">Started over from a fresh initialisation at a small lesion start (BackSplit runs with a background warm-up: the background as one class until the lesion is found), because validation pseudo-Dice was still 0: ${esc(restarted.join(", "))}. Their curves show the new start; the abandoned one is kept in the run's ${RUN_STALLED_START}/ folder.</p>`;
}

/** Curves from runs trained with --fisher-log, and `backsplit fisher` tables and maps. */
async function renderFisherSection(r: ReportInput): Promise<string | null> {
  const rows: FisherCurveRow[] = [];
  for (const [run, file] of Object.entries(r.logs ?? {})) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, "utf8").trim().split("\n").filter(Boolean)) {
      const e = JSON.parse(line) as EpochLog;
      if (!e.fisher || !e.gradNorm) continue;
      rows.push({
        run,
        epoch: e.epoch,
        gradNormVariance: e.gradNorm.variance,
        traceY: e.fisher.traceY,
        traceZ: e.fisher.traceZ,
        logitGap: e.fisher.logitGap,
      });
    }
  }
  const parts: string[] = [];
  if (rows.length) {
    // Per run: the gradient-norm coefficient of variation over the second half of training.
    const byRun = new Map<string, FisherCurveRow[]>();
    for (const row of rows) byRun.set(row.run, [...(byRun.get(row.run) ?? []), row]);
    const stability = [...byRun].map(([run, list]) => {
      const late = list.slice(Math.floor(list.length / 2));
      const m = (f: (x: FisherCurveRow) => number) => late.reduce((a, x) => a + f(x), 0) / late.length;
      return `| ${run} | ${m((x) => x.gradNormVariance).toPrecision(3)} | ${m((x) => x.traceY).toPrecision(3)} | ${m((x) => x.traceZ).toPrecision(3)} | ${m((x) => x.logitGap).toFixed(4)} |`;
    });
    parts.push(
      `<figure class="plot">${await renderSvg(fisherCurvesSpec(rows))}</figure>`,
      table(
        [
          "| run | gradient-norm variance | tr I_Y (MC) | tr I_Z (MC) | logit gap per voxel |",
          "|---|---|---|---|---|",
          ...stability,
        ].join("\n"),
      ),
      "<p>Means over the second half of training (one validation patch, two label samples per epoch).</p>",
    );
  }
  for (const f of r.fisher ?? []) {
    const blocks = fisherMarkdown(f.result).split("\n\n");
    parts.push(
      `<h3>${esc(f.name)}</h3>`,
      ...blocks.map((b) => (b.trim().startsWith("|") ? table(b) : `<p>${esc(b.trim())}</p>`)),
    );
    if (f.image && f.result.map) {
      const heat = await renderHeatSlice(f.image, f.result.map.file);
      parts.push(
        `<figure class="montage"><img alt="Fisher gap map of ${esc(f.result.map.caseId)}" width="${heat.width}" height="${heat.height}" src="data:image/png;base64,${heat.png.toString("base64")}"><figcaption>${esc(f.result.map.caseId)}, axial slice ${heat.slice}: (1 − p_lesion)(1 − ‖q‖²), red at ${heat.max.toFixed(3)}</figcaption></figure>`,
      );
    }
  }
  if (parts.length === 0) return null;
  return `<h2>Fisher information</h2><p>Why the split helps: the split likelihood's Fisher information I_Y exceeds the binary one's, I_Z, by E[Var(s_Y | Z, X)] (see docs/fisher.md).</p>${parts.join("\n")}`;
}

/** Writes report.html, report.json, report.csv and report.md into `dir`; returns the Markdown summary. */
export async function writeReport(dir: string, r: ReportInput): Promise<{ html: string; markdown: string }> {
  const c = r.comparison;
  const names: [string, string] = [c.a, c.b];
  const sections: string[] = [];
  for (const cls of Object.keys(c.perClass)) {
    const plots = await Promise.all([
      renderSvg(pairedDotsSpec(r.a, r.b, names, cls, "f1")),
      renderSvg(pairedDotsSpec(r.a, r.b, names, cls, "dice")),
      renderSvg(pairedDotsSpec(r.a, r.b, names, cls, "falsePositives")),
      renderSvg(recallBySizeSpec(c, cls)),
    ]);
    sections.push(
      `<h2>Class ${esc(cls)}</h2><div class="plots">${plots.map((s) => `<figure class="plot">${s}</figure>`).join("")}</div>`,
    );
  }
  const curves: CurveRow[] = [];
  for (const [run, file] of Object.entries(r.logs ?? {})) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, "utf8").trim().split("\n").filter(Boolean)) {
      const e = JSON.parse(line) as CurveRow;
      curves.push({ run, epoch: e.epoch, trainLoss: e.trainLoss, pseudoDice: e.pseudoDice });
    }
  }
  if (curves.length)
    sections.push(
      `<h2>Training</h2>${restartNote(r.logs ?? {})}<figure class="plot">${await renderSvg(trainingCurvesSpec(curves))}</figure>`,
    );
  const fisherSection = await renderFisherSection(r);
  if (fisherSection) sections.push(fisherSection);
  const montages: string[] = [];
  for (const m of r.montages ?? []) {
    const rendered = await renderMontage(m.image, m.reference, [
      { name: c.a, file: m.predictionA, color: OVERLAY_COLORS[1] },
      { name: c.b, file: m.predictionB, color: OVERLAY_COLORS[2] },
    ]);
    montages.push(
      `<figure class="montage"><img alt="case ${esc(m.id)}" width="${rendered.width}" height="${rendered.height}" src="data:image/png;base64,${rendered.png.toString("base64")}"><figcaption>${esc(m.id)}, axial slice ${rendered.slice}</figcaption></figure>`,
    );
  }
  if (montages.length) {
    const swatch = (rgb: number[], label: string) =>
      `<span class="swatch" style="background: rgb(${rgb.join(",")})"></span>${esc(label)}`;
    sections.push(
      `<h2>Cases</h2><p class="legend">${swatch(OVERLAY_COLORS[0], "reference")} ${swatch(OVERLAY_COLORS[1], c.a)} ${swatch(OVERLAY_COLORS[2], c.b)} (contours; neurological convention, patient's left on the left)</p><div class="montages">${montages.join("")}</div>`,
    );
  }
  const markdown = markdownSummary(c);
  const facts = Object.entries(r.facts ?? {})
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`)
    .join("");
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 2rem; color: #222; max-width: 1200px; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.plots, .montages { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin: 0 0.3em 0 1em; vertical-align: middle; }
</style></head><body>
<h1>${esc(r.title)}</h1>
${facts ? `<table class="facts">${facts}</table>` : ""}
<h2>Summary</h2>
${table(markdown)}
${sections.join("\n")}
</body></html>
`;
  const file = path.join(dir, "report.html");
  writeFileAtomicSync(file, html);
  writeFileAtomicSync(path.join(dir, "report.json"), `${JSON.stringify(c, null, 2)}\n`);
  writeFileAtomicSync(path.join(dir, "report.csv"), perCaseCsv(r));
  writeFileAtomicSync(path.join(dir, "report.md"), `${markdown}\n`);
  return { html: file, markdown };
}
