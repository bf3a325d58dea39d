import path from "node:path";
import { clusterSource } from "../../labels/cluster.js";
import { groupSource } from "../../labels/group.js";
import { importSource } from "../../labels/import.js";
import { interactiveSource } from "../../labels/interactive.js";
import { mergeDataset } from "../../labels/merge-dataset.js";
import { predictSource } from "../../labels/predict.js";
import { writeFileAtomicSync } from "../../util/atomic.js";
import { Progress } from "../../util/progress.js";
import { openDatasetArg } from "../dataset-arg.js";
import { CliError, EXIT } from "../exit-codes.js";
import { type OptionValues, UNASSIGNED, type Verb, unassignedOption } from "../verb.js";

function required(values: OptionValues, name: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") throw new CliError(`--${name} is required`, EXIT.usage);
  return v;
}

const workers = (values: OptionValues) => (values.workers ? Number(values.workers) : undefined);
const print = (values: OptionValues, event: string, body: Record<string, unknown>, text: string) =>
  process.stdout.write(values.json ? `${JSON.stringify({ event, ...body })}\n` : `${text}\n`);

const COMMON = {
  workers: { type: "string" as const },
  json: { type: "boolean" as const, default: false },
  replace: { type: "boolean" as const, default: false },
};
const COMMON_HELP = `  --replace        overwrite a source of the same name (otherwise refused)
  --workers N      cases in parallel (default: number of cores)
  --json           JSON lines`;

/** The result as a JSON event, or its number of classes and their list. */
const printClasses = (values: OptionValues, event: string, result: { classes: Record<string, number> }) =>
  print(values, event, { ...result }, `${Object.keys(result.classes).length} classes:\n${classList(result.classes)}`);

function classList(classes: Record<string, number>): string {
  return Object.entries(classes)
    .map(([n, v]) => `  ${String(v).padStart(5)}  ${n}`)
    .join("\n");
}

export const labelsImportVerb: Verb = {
  name: "labels import",
  args: "DIR",
  summary: "import existing label maps (TotalSegmentator, FreeSurfer, an atlas, any map) as a background source",
  help: `  --source NAME    name of the new background source (backgroundTr/NAME/)
  --from PATH      one map for every case (an atlas), a folder of {case}.nii.gz maps,
                   or a folder of {case}/<class>.nii.gz masks (TotalSegmentator per-class output)
  --names SPEC     class names: a JSON {"1": "liver"} or {"liver": 1}, FILE#KEY for one entry of it
                   (e.g. classes.json#'total'), a text table of "VALUE NAME" lines (FSL atlas
                   .txt, AAL .txt), or "freesurfer" for FreeSurfer's lookup table
${COMMON_HELP}`,
  options: { ...COMMON, source: { type: "string" }, from: { type: "string" }, names: { type: "string" } },
  async run(values, positionals) {
    const dataset = openDatasetArg(positionals);
    const progress = new Progress({
      label: "import",
      total: Math.max(dataset.training.length, 1),
      json: Boolean(values.json),
    });
    const result = await importSource(dataset, {
      source: required(values, "source"),
      from: required(values, "from"),
      names: values.names ? String(values.names) : undefined,
      replace: Boolean(values.replace),
      workers: workers(values),
      onCase: () => progress.tick(),
    });
    const resampled = result.cases.filter((c) => c.resampled).length;
    print(
      values,
      "imported",
      { ...result },
      `${Object.keys(result.classes).length} classes (${result.layout}), ${result.cases.length} cases, ${resampled} resampled onto the image grid:\n${classList(result.classes)}`,
    );
    return EXIT.ok;
  },
};

export const labelsGroupVerb: Verb = {
  name: "labels group",
  args: "DIR",
  summary:
    "map a source's many classes to a few groups (built-in: freesurfer, brainchop, totalsegmentator, jhu; or a JSON file)",
  help: `  --source NAME    the source to group
  --grouping G     freesurfer | brainchop | totalsegmentator | jhu | a JSON file {"groups": {"wm": ["*White-Matter"], …}}
  --target NAME    the new source (default NAME_grouped)
${COMMON_HELP}`,
  options: { ...COMMON, source: { type: "string" }, grouping: { type: "string" }, target: { type: "string" } },
  async run(values, positionals) {
    const dataset = openDatasetArg(positionals);
    const source = required(values, "source");
    const result = await groupSource(dataset, {
      source,
      grouping: required(values, "grouping"),
      target: values.target ? String(values.target) : `${source}_grouped`,
      replace: Boolean(values.replace),
    });
    const unmatched = Object.entries(result.mapping)
      .filter(([, g]) => g === null)
      .map(([c]) => c);
    print(
      values,
      "grouped",
      { ...result },
      `${Object.keys(result.classes).length} groups:\n${classList(result.classes)}${unmatched.length ? `\nunmatched (become 0): ${unmatched.join(", ")}` : ""}`,
    );
    return EXIT.ok;
  },
};

export const labelsClusterVerb: Verb = {
  name: "labels cluster",
  args: "DIR",
  summary: "unsupervised background classes: a Gaussian mixture inside the brain/body mask, or CT Hounsfield bands",
  help: `  --source NAME    name of the new source (default gmm)
  --channels LIST  channel indices to cluster on (default 0)
  --k N|bic        number of clusters, or chosen by BIC among 2–6 (default 3)
  --method M       gmm or ct (default: ct for a channel named CT, else gmm)
${COMMON_HELP}`,
  options: {
    ...COMMON,
    source: { type: "string", default: "gmm" },
    channels: { type: "string", default: "0" },
    k: { type: "string", default: "3" },
    method: { type: "string" },
  },
  choices: { method: ["gmm", "ct"] },
  async run(values, positionals) {
    const dataset = openDatasetArg(positionals);
    const k = values.k === "bic" ? "bic" : Number(values.k);
    if (k !== "bic" && !(Number.isInteger(k) && k >= 2))
      throw new CliError("--k must be an integer ≥ 2 or 'bic'", EXIT.usage);
    const method = values.method as "gmm" | "ct" | undefined;
    const progress = new Progress({
      label: "cluster",
      total: Math.max(dataset.training.length, 1),
      json: Boolean(values.json),
    });
    const result = await clusterSource(dataset, {
      source: String(values.source),
      channels: String(values.channels).split(",").map(Number),
      k,
      method,
      replace: Boolean(values.replace),
      workers: workers(values),
      onCase: () => progress.tick(),
    });
    printClasses(values, "clustered", result);
    return EXIT.ok;
  },
};

export const labelsMergeVerb: Verb = {
  name: "labels merge",
  args: "DIR",
  summary: "lesion labels + background sources → training targets (the lesion always wins), with a conflict report",
  help: `  --sources A,B    background sources in priority order (the first wins overlaps)
  --near-mm MM     keep background classes only within MM of a lesion (or of --near-class)
  --near-class S:C keep them near class C of source S instead (e.g. an organ)
  --unassigned U   background (default), ignore or marginal, for voxels no source labels
  --out DIR        where to write the merged maps (default DATASET/merged)
  --workers N      cases in parallel
  --json           JSON lines (one report per case)`,
  options: {
    sources: { type: "string" },
    "near-mm": { type: "string" },
    "near-class": { type: "string" },
    unassigned: { type: "string", default: "background" },
    out: { type: "string" },
    workers: { type: "string" },
    json: { type: "boolean", default: false },
  },
  choices: { unassigned: UNASSIGNED },
  async run(values, positionals) {
    const dataset = openDatasetArg(positionals);
    const unassigned = unassignedOption(values);
    const out = values.out ? String(values.out) : path.join(dataset.root, "merged");
    const progress = new Progress({
      label: "merge",
      total: Math.max(dataset.training.length, 1),
      json: Boolean(values.json),
    });
    const reports = await mergeDataset(
      dataset,
      {
        sources: required(values, "sources").split(","),
        unassigned,
        nearMm: values["near-mm"] ? Number(values["near-mm"]) : undefined,
        nearClass: values["near-class"] ? String(values["near-class"]) : undefined,
      },
      out,
      { workers: workers(values), onCase: () => progress.tick() },
    );
    writeFileAtomicSync(path.join(out, "merge_report.json"), `${JSON.stringify(reports, null, 2)}\n`);
    if (values.json) {
      for (const r of reports) process.stdout.write(`${JSON.stringify({ event: "merged", ...r })}\n`);
    } else {
      const classes = reports[0]?.report.classes ?? {};
      process.stdout.write(`target classes:\n${classList(classes)}\n`);
      for (const r of reports) {
        const claimed = Object.entries(r.report.lesionClaimed)
          .map(([s, n]) => `${s} ${n}`)
          .join(", ");
        const overlaps = Object.entries(r.report.overlaps)
          .map(([s, n]) => `${s} ${n}`)
          .join(", ");
        process.stdout.write(
          `${r.id}: lesion voxels claimed by sources: ${claimed || "-"}; source overlaps: ${overlaps || "-"}\n`,
        );
      }
      process.stdout.write(`wrote ${reports.length} maps and merge_report.json to ${out}\n`);
    }
    return EXIT.ok;
  },
};

export const labelsPredictVerb: Verb = {
  name: "labels predict",
  args: "DIR",
  summary: "run a pretrained ONNX segmentation model (described by a model card) on every case as a background source",
  help: `  --run RUN        a trained backsplit run (BackSplit): its background classes become the source
  --model FILE     the ONNX model (e.g. brainchop's model30chan18cls.onnx)
  --card NAME|FILE model card: brainchop-18, brainchop-3, or a JSON file (grid, normalisation, class names)
  --source NAME    name of the new source (default: the card's name)
  --channel N      image channel to feed the model (default 0)
${COMMON_HELP.replace("(default: number of cores)", "(default 1: each case uses every core)")}`,
  options: {
    ...COMMON,
    model: { type: "string" },
    card: { type: "string" },
    source: { type: "string" },
    channel: { type: "string", default: "0" },
  },
  async run(values, positionals) {
    const dataset = openDatasetArg(positionals);
    const card = required(values, "card");
    const progress = new Progress({
      label: "predict",
      total: Math.max(dataset.training.length, 1),
      json: Boolean(values.json),
    });
    const result = await predictSource(dataset, {
      source: values.source ? String(values.source) : path.basename(card, ".json"),
      model: required(values, "model"),
      card,
      channel: Number(values.channel),
      replace: Boolean(values.replace),
      workers: workers(values) ?? 1,
      onCase: (r) => progress.tick(1, { case: r.caseId, s: r.seconds }),
    });
    printClasses(values, "predicted", result);
    return EXIT.ok;
  },
};

export const labelsInteractiveVerb: Verb = {
  name: "labels interactive",
  args: "DIR",
  summary: "background classes from (simulated) clicks: random-walker segmentation of each structure of a reference",
  help: `  --simulate-clicks N  clicks per structure, placed where the mask is most wrong (required)
  --reference SOURCE   background source whose structures the simulated user clicks on
  --source NAME        name of the new source (default: REFERENCE_clicksN)
  --negatives          also place negative clicks on false-positive regions
  --channel N          image channel to segment (default 0)
  --seed N             seed for the click positions (default 0)
  --device D           cpu (default) or cuda
  --threads N          libtorch threads per case
${COMMON_HELP.replace("(default: number of cores)", "(default 1)")}`,
  options: {
    ...COMMON,
    "simulate-clicks": { type: "string" },
    reference: { type: "string" },
    source: { type: "string" },
    negatives: { type: "boolean", default: false },
    channel: { type: "string", default: "0" },
    seed: { type: "string", default: "0" },
    device: { type: "string", default: "cpu" },
    threads: { type: "string" },
  },
  async run(values, positionals) {
    const dataset = openDatasetArg(positionals);
    const clicks = Number(required(values, "simulate-clicks"));
    if (!Number.isInteger(clicks) || clicks < 1)
      throw new CliError(
        `--simulate-clicks must be a positive integer, got '${values["simulate-clicks"]}'`,
        EXIT.usage,
      );
    const reference = required(values, "reference");
    const progress = new Progress({
      label: "clicks",
      total: Math.max(dataset.training.length, 1),
      json: Boolean(values.json),
    });
    const result = await interactiveSource(dataset, {
      source: values.source ? String(values.source) : `${reference}_clicks${clicks}`,
      reference,
      clicks,
      negatives: Boolean(values.negatives),
      channel: Number(values.channel),
      seed: Number(values.seed),
      device: String(values.device),
      threads: values.threads ? Number(values.threads) : undefined,
      replace: Boolean(values.replace),
      workers: workers(values),
      onCase: (r) => progress.tick(1, { case: r.caseId, s: r.seconds }),
    });
    const slowest = Math.max(...result.cases.flatMap((c) => c.structures.map((s) => s.maxSecondsPerClick)));
    print(
      values,
      "interactive",
      { ...result },
      [
        `| structure | Dice vs ${reference} (mean over ${result.cases.length} cases) |`,
        "|---|---|",
        ...Object.entries(result.meanDice).map(([n, d]) => `| ${n} | ${d.toFixed(3)} |`),
        "",
        `slowest click: ${slowest.toFixed(2)} s`,
      ].join("\n"),
    );
    return EXIT.ok;
  },
};
