// `backsplit predict`: segments every case of a folder with one or more trained runs, on a worker
// thread; optionally writes DICOM Segmentations referencing the source series.
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { JOBS } from "../../jobs/worker-steps.js";
import { inputCaseProblems } from "../../predict/inputs.js";
import type { PredictJob } from "../../predict/predict.js";
import { DEFAULT_TILE_AVERAGE } from "../../predict/tile-average.js";
import { TrainingRun } from "../../run/record.js";
import { Progress } from "../../util/progress.js";
import { runInWorker } from "../../util/worker.js";
import { CliError, EXIT } from "../exit-codes.js";
import {
  CHECKPOINT,
  COLLAPSE,
  COMMON_HELP,
  COMMON_OPTIONS,
  TILE_AVERAGE,
  type Verb,
  checkpointOption,
  collapseOption,
  intOption,
  numberOption,
  tileAverageOption,
} from "../verb.js";

export const predictVerb: Verb = {
  name: "predict",
  args: "INPUT OUT",
  summary: "segment lesions in every case of INPUT ({case}_{XXXX} images) with one or more trained runs",
  help: `  --model RUN[,RUN]  training run folders (several: their probabilities are averaged)
  --collapse C       prob (p_lesion > threshold, default) or argmax (lesion wins over all classes)
  --threshold X      for prob (default 0.5)
  --no-mirror        predict once per tile, without nnU-Net's test-time mirroring (on by default: the
                     logits of every flip of each tile averaged, 4 passes in 2D, 8 in 3D; --no-mirror is
                     that many times faster and measured to leave more false-positive lesions;
                     --mirror, the default, is still accepted)
  --checkpoint C     latest (the final weights, default, as nnU-Net) or best (best validation EMA)
  --tile-average A   what overlapping tiles average, Gaussian-weighted: logits (default, nnU-Net v2's; one
                     softmax at the end, every class aggregated) or probabilities (each tile's softmax;
                     only the lesion classes are aggregated: less memory for many classes)
  --save-probabilities  also write {case}_prob.nii.gz (lesion probability, float32)
  --save-classes     also write {case}_classes.nii.gz (the full class map, background classes included)
  --dicom-seg        also write {case}.seg.dcm, a DICOM Segmentation (lesion classes; with --save-classes the
                     background classes too) referencing the case's source series, given by --reference
  --reference DIR    the source DICOM series: DIR itself for one case, else DIR/<case>/ for each case
  --amp              mixed precision (CUDA)
  --no-postprocessing  write the raw mask, without the postprocessing recorded with the (first) run by
                     \`backsplit postprocess --record\` (it is applied by default when there is one)
${COMMON_HELP}`,
  options: {
    ...COMMON_OPTIONS,
    model: { type: "string" },
    collapse: { type: "string", default: "prob" },
    threshold: { type: "string", default: "0.5" },
    mirror: { type: "boolean", default: false },
    "no-mirror": { type: "boolean", default: false },
    checkpoint: { type: "string", default: "latest" },
    "tile-average": { type: "string", default: DEFAULT_TILE_AVERAGE },
    "save-probabilities": { type: "boolean", default: false },
    "save-classes": { type: "boolean", default: false },
    "dicom-seg": { type: "boolean", default: false },
    reference: { type: "string" },
    amp: { type: "boolean", default: false },
    "no-postprocessing": { type: "boolean", default: false },
  },
  choices: { collapse: COLLAPSE, checkpoint: CHECKPOINT, "tile-average": TILE_AVERAGE },
  async run(values, positionals) {
    if (positionals.length !== 2) throw new CliError("expected INPUT and OUT folders", EXIT.usage);
    // --dicom-seg (issue 21): the reference series are resolved before predicting, so a mistake costs nothing.
    const seg = values["dicom-seg"] ? await import("../../predict/dicom-seg.js") : null;
    let segReferences: Map<string, string> | null = null;
    if (seg) {
      if (!values.reference) throw new CliError("--dicom-seg needs --reference DICOM_SERIES_DIR", EXIT.usage);
      try {
        const ids = seg.inputCaseIds(path.resolve(positionals[0]));
        segReferences = seg.resolveSegReferences(path.resolve(String(values.reference)), ids);
      } catch (error) {
        throw new CliError((error as Error).message, EXIT.usage);
      }
    } else if (values.reference) throw new CliError("--reference is used with --dicom-seg", EXIT.usage);
    if (!values.model) throw new CliError("--model is required", EXIT.usage);
    // --mirror is the default, still accepted for scripts written when mirroring was opt-in.
    if (values.mirror && values["no-mirror"]) throw new CliError("--mirror and --no-mirror contradict", EXIT.usage);
    const collapse = collapseOption(values);
    await checkPredictInputs(
      path.resolve(positionals[0]),
      String(values.model)
        .split(",")
        .map((r) => path.resolve(r)),
    );
    const job: PredictJob = {
      runs: String(values.model)
        .split(",")
        .map((r) => path.resolve(r)),
      input: path.resolve(positionals[0]),
      out: path.resolve(positionals[1]),
      threads: values.threads ? intOption(values, "threads", undefined, 1) : undefined,
      options: {
        collapse,
        threshold: numberOption(values, "threshold", 0.5, { min: 0, max: 1 }),
        mirror: !values["no-mirror"],
        checkpoint: checkpointOption(values),
        tileAverage: tileAverageOption(values),
        device: String(values.device),
        saveProbabilities: Boolean(values["save-probabilities"]),
        saveClasses: Boolean(values["save-classes"]),
        amp: Boolean(values.amp),
        postprocessing: values["no-postprocessing"] ? "none" : "run",
      },
    };
    let progress: Progress | null = null;
    const result = await runInWorker<PredictJob, { cases: number }>({
      module: JOBS,
      exportName: "predictJob",
      input: job,
      onReport: (m) => {
        const r = m as { case: string; total: number; lesionVoxels: number; removedComponents: number };
        progress ??= new Progress({ label: "predict", total: r.total, json: Boolean(values.json) });
        progress.tick(1, {
          case: r.case,
          "lesion voxels": r.lesionVoxels,
          ...(r.removedComponents ? { "components removed": r.removedComponents } : {}),
        });
      },
    });
    if (seg && segReferences) {
      const files = await seg.writePredictionSegs({
        out: job.out,
        runs: job.runs,
        references: segReferences,
        classes: Boolean(values["save-classes"]),
      });
      if (values.json) process.stdout.write(`${JSON.stringify({ event: "dicom-seg", files })}\n`);
    }
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ event: "done", ...result, out: job.out })}\n`
        : `${result.cases} cases → ${job.out}${segReferences ? " (with DICOM-SEG: {case}.seg.dcm)" : ""}\n`,
    );
    return EXIT.ok;
  },
};

/** Before the worker starts: the input folder, the runs, and every case holding the channels the model reads. */
async function checkPredictInputs(input: string, runs: string[]): Promise<void> {
  if (!existsSync(input) || !statSync(input).isDirectory())
    throw new CliError(`${input}: no such input folder`, EXIT.environment);
  let channels = 0;
  for (const run of runs) {
    const folder = new TrainingRun(run);
    if (!folder.isRun()) throw new CliError(`${run}: not a training run (no training.json)`, EXIT.environment);
    const plansFile = folder.plansSource();
    if (!existsSync(plansFile)) throw new CliError(`${plansFile}: missing (the run's plans)`, EXIT.environment);
    channels = Object.keys(folder.plans().foreground_intensity_properties_per_channel).length;
  }
  const { listInputCases } = await import("../../predict/predict.js");
  const cases = listInputCases(input);
  if (cases.size === 0)
    throw new CliError(`${input}: no images named {case}_0000.nii.gz (or another image ending) found`, EXIT.failure);
  const problems = inputCaseProblems(cases, channels, input);
  if (problems.length > 0) throw new CliError(problems.join("\n"), EXIT.failure);
}
