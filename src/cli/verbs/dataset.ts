import { type Problem, checkDataset } from "../../dataset/check.js";
import { datasetStats } from "../../dataset/stats.js";
import { Progress } from "../../util/progress.js";
import { openDatasetArg } from "../dataset-arg.js";
import { CliError, EXIT } from "../exit-codes.js";
import type { OptionValues, Verb } from "../verb.js";

function workers(values: OptionValues): number | undefined {
  return values.workers ? Number(values.workers) : undefined;
}

export const datasetCheckVerb: Verb = {
  name: "dataset check",
  args: "DIR",
  summary: "check an nnU-Net-style dataset: files, geometry, label values, NaNs (exit 1 on errors)",
  help: `  --tolerance MM  allowed spacing/origin difference between an image and its maps (default 0.001)
  --workers N     cases read in parallel (default: number of cores)
  --json          one JSON object per problem, then a summary object`,
  options: { json: { type: "boolean", default: false }, tolerance: { type: "string" }, workers: { type: "string" } },
  async run(values, positionals) {
    const dataset = openDatasetArg(positionals);
    const json = Boolean(values.json);
    const progress = new Progress({ label: "check", total: Math.max(dataset.training.length, 1), json });
    const mm = values.tolerance ? Number(values.tolerance) : 1e-3;
    const problems: Problem[] = await checkDataset(dataset, {
      tolerances: { mm, direction: 1e-4 },
      workers: workers(values),
      onCase: () => progress.tick(),
    });
    const errors = problems.filter((p) => p.level === "error").length;
    const warnings = problems.length - errors;
    if (json) {
      for (const p of problems) process.stdout.write(`${JSON.stringify({ event: "problem", ...p })}\n`);
      process.stdout.write(
        `${JSON.stringify({ event: "summary", cases: dataset.training.length, errors, warnings })}\n`,
      );
    } else {
      for (const p of problems) process.stdout.write(`${p.level}: ${p.file ? `${p.file}: ` : ""}${p.message}\n`);
      process.stdout.write(`${dataset.training.length} training cases: ${errors} error(s), ${warnings} warning(s)\n`);
    }
    return errors > 0 ? EXIT.failure : EXIT.ok;
  },
};

export const datasetStatsVerb: Verb = {
  name: "dataset stats",
  args: "DIR",
  summary: "lesion counts (connected components), lesion volumes, background-class volumes and overlaps",
  help: `  --connectivity 26|6  lesion connectivity (default 26)
  --workers N          cases read in parallel (default: number of cores)
  --json               print the full statistics as one JSON object`,
  options: {
    json: { type: "boolean", default: false },
    connectivity: { type: "string", default: "26" },
    workers: { type: "string" },
  },
  async run(values, positionals) {
    const dataset = openDatasetArg(positionals);
    const connectivity = Number(values.connectivity);
    if (connectivity !== 26 && connectivity !== 6) throw new CliError("--connectivity must be 26 or 6", EXIT.usage);
    const json = Boolean(values.json);
    const progress = new Progress({ label: "stats", total: Math.max(dataset.training.length, 1), json: false });
    const stats = await datasetStats(dataset, {
      connectivity,
      workers: workers(values),
      onCase: () => progress.tick(),
    });
    if (json) {
      process.stdout.write(`${JSON.stringify(stats)}\n`);
      return EXIT.ok;
    }
    const names = Object.keys(dataset.lesionLabels);
    const lines = [`case${" ".repeat(16)}${names.map((n) => `${n} count  median mm³  total mm³`).join("   ")}`];
    for (const c of stats.cases) {
      const cols = names.map((n) => {
        const v = c.lesions[n] ?? [];
        const sorted = [...v].sort((a, b) => a - b);
        const med = sorted.length ? sorted[sorted.length >> 1] : 0;
        return `${String(v.length).padStart(String(n).length + 6)}  ${med.toFixed(1).padStart(10)}  ${v
          .reduce((a, b) => a + b, 0)
          .toFixed(1)
          .padStart(9)}`;
      });
      lines.push(`${c.id.padEnd(20)}${cols.join("   ")}`);
      for (const [source, overlap] of Object.entries(c.lesionOverlap)) {
        const parts = Object.entries(overlap)
          .filter(([, v]) => v > 0)
          .map(([k, v]) => `${k} ${v.toFixed(0)}`);
        lines.push(`  lesion mm³ in ${source}: ${parts.join(", ") || "none"}`);
      }
    }
    for (const [name, o] of Object.entries(stats.overall.lesions)) {
      lines.push(
        "",
        `${name}: ${o.count} lesions in ${stats.overall.cases} cases, median ${o.medianMm3.toFixed(1)} mm³`,
      );
      for (const h of o.histogram)
        lines.push(
          `  ${h.bin.padStart(10)} mm³  ${String(h.count).padStart(5)}  ${"▇".repeat(Math.ceil((40 * h.count) / Math.max(o.count, 1)))}`,
        );
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    return EXIT.ok;
  },
};

// ---- dataset import-msd (issue 21): a Decathlon task folder → an nnU-Net v2 dataset ----
export const datasetImportMsdVerb: Verb = {
  name: "dataset import-msd",
  args: "TASK_DIR OUT_DIR",
  summary: "convert a Medical Segmentation Decathlon task (4-D images) into an nnU-Net v2 dataset, checked",
  help: `  Splits each 4-D image into {case}_{XXXX}.nii.gz (one file per modality, geometry kept), copies the
  labels, and writes dataset.json (modality → channel_names, labels → name: value, file_ending), as
  nnUNetv2_convert_MSD_dataset does. Every training case is checked as \`dataset check\` does; OUT_DIR
  (new or empty) is written only when all pass.
  --skip-bad      leave out the cases with errors instead of writing nothing
  --tolerance MM  allowed spacing/origin difference between channels and label (default 0.001)
  --workers N     cases converted in parallel (default: number of cores)
  --json          one JSON object per problem, then a summary object`,
  options: {
    json: { type: "boolean", default: false },
    "skip-bad": { type: "boolean", default: false },
    tolerance: { type: "string" },
    workers: { type: "string" },
  },
  async run(values, positionals) {
    if (positionals.length !== 2) throw new CliError("expected TASK_DIR and OUT_DIR", EXIT.usage);
    const { importMsd } = await import("../../dataset/import-msd.js");
    const { DatasetError } = await import("../../dataset/layout.js");
    const json = Boolean(values.json);
    let progress: Progress | null = null;
    let result: Awaited<ReturnType<typeof importMsd>>;
    try {
      result = await importMsd(positionals[0], positionals[1], {
        tolerances: { mm: values.tolerance ? Number(values.tolerance) : 1e-3, direction: 1e-4 },
        workers: workers(values),
        skipBad: Boolean(values["skip-bad"]),
        onStart: (total) => {
          progress = new Progress({ label: "import", total: Math.max(total, 1), json });
        },
        onCase: () => progress?.tick(),
      });
    } catch (error) {
      if (error instanceof DatasetError) throw new CliError(error.message, EXIT.failure);
      throw error;
    }
    const { training, test, failed, problems, written } = result;
    const errors = problems.filter((p) => p.level === "error").length;
    const summary = { cases: training.length, test: test.length, failed, errors, written, out: positionals[1] };
    if (json) {
      for (const p of problems) process.stdout.write(`${JSON.stringify({ event: "problem", ...p })}\n`);
      process.stdout.write(`${JSON.stringify({ event: "summary", ...summary })}\n`);
    } else {
      for (const p of problems) process.stdout.write(`${p.level}: ${p.file ? `${p.file}: ` : ""}${p.message}\n`);
      process.stdout.write(
        written
          ? `${training.length} training and ${test.length} test cases → ${positionals[1]}${failed.length ? ` (left out: ${failed.join(", ")})` : ""}\n`
          : `nothing written: ${errors} error(s)${failed.length ? ` in ${failed.join(", ")}` : ""} (--skip-bad leaves those cases out)\n`,
      );
    }
    return written ? EXIT.ok : EXIT.failure;
  },
};
