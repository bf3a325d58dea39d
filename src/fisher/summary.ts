// The results of a Fisher estimate (see fisher.ts) and their Markdown table: plain data, no libtorch,
// so the report and the CLI can read and print them without loading the engine.

export interface Estimate {
  mean: number;
  /** Standard error: over patches when there are several, else Monte Carlo error over samples. */
  se: number;
}

export interface FisherSummary {
  patches: number;
  samplesPerPatch: number;
  groups: {
    group: string;
    parameters: number;
    traceY: Estimate;
    traceZ: Estimate;
    /** tr I_Y − tr I_Z, estimated pairwise (same samples). */
    gap: Estimate;
    empiricalY: Estimate | null;
    empiricalZ: Estimate | null;
  }[];
  total: {
    traceY: Estimate;
    traceZ: Estimate;
    gap: Estimate;
    empiricalY: Estimate | null;
    empiricalZ: Estimate | null;
  };
  /** Closed-form logit-space traces, mean per voxel. */
  logitPerVoxel: { traceY: number; traceZ: number; gap: number };
}

export interface FisherMapSummary {
  caseId: string;
  file: string;
  /** Per predicted class: voxels, mean and sum of the logit-space gap. */
  perClass: { name: string; value: number; voxels: number; meanGap: number; sumGap: number }[];
}

export interface FisherResult {
  run: string;
  classes: Record<string, number>;
  lesionClasses: number[];
  patch: number[];
  cases: string[];
  summary: FisherSummary;
  map: FisherMapSummary | null;
  seconds: number;
}

const pm = (e: { mean: number; se: number } | null) => (e ? `${e.mean.toPrecision(4)} ± ${e.se.toPrecision(2)}` : "–");

/** The trace table and the voxel-map summary as Markdown. */
export function fisherMarkdown(r: FisherResult): string {
  const s = r.summary;
  const lines = [
    `Fisher traces per patch (${s.patches} patches of ${r.patch.join("×")}, ${s.samplesPerPatch} samples each; mean ± SE)`,
    "",
    "| parameters | count | tr I_Y (split) | tr I_Z (binary) | tr I_Y − tr I_Z | empirical I_Y | empirical I_Z |",
    "|---|---|---|---|---|---|---|",
    ...s.groups.map(
      (g) =>
        `| ${g.group} | ${g.parameters} | ${pm(g.traceY)} | ${pm(g.traceZ)} | ${pm(g.gap)} | ${pm(g.empiricalY)} | ${pm(g.empiricalZ)} |`,
    ),
    `| **all** | ${s.groups.reduce((n, g) => n + g.parameters, 0)} | ${pm(s.total.traceY)} | ${pm(s.total.traceZ)} | ${pm(s.total.gap)} | ${pm(s.total.empiricalY)} | ${pm(s.total.empiricalZ)} |`,
    "",
    `Logit space, mean per voxel: tr F_Y ${s.logitPerVoxel.traceY.toFixed(4)}, tr F_Z ${s.logitPerVoxel.traceZ.toFixed(4)}, gap ${s.logitPerVoxel.gap.toFixed(4)}`,
  ];
  if (r.map) {
    lines.push(
      "",
      `Closed-form gap map of ${r.map.caseId} (${r.map.file}), by predicted class:`,
      "",
      "| class | voxels | mean gap | share of the total gap |",
      "|---|---|---|---|",
    );
    const total = r.map.perClass.reduce((s, c) => s + c.sumGap, 0);
    for (const c of r.map.perClass)
      lines.push(
        `| ${c.name} | ${c.voxels} | ${c.meanGap.toFixed(4)} | ${total > 0 ? ((100 * c.sumGap) / total).toFixed(1) : "0.0"} % |`,
      );
  }
  return lines.join("\n");
}
