// `backsplit postprocess`: chooses a postprocessing rule on cross-validation predictions (nnU-Net's
// determine_postprocessing, for lesions: small or faint components) and records it with the runs,
// so that `predict` applies it.
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import {
  type PostprocessingChoice,
  determinePostprocessing,
  postprocessingRecord,
} from "../../evaluate/postprocessing.js";
import { describeRule, isNoPostprocessing } from "../../predict/postprocess.js";
import { TrainingRun } from "../../run/record.js";
import { writeFileAtomicSync } from "../../util/atomic.js";
import { Progress } from "../../util/progress.js";
import { CliError, EXIT } from "../exit-codes.js";
import { type Verb, intOption } from "../verb.js";

const f = (v: number) => v.toFixed(3);

function table(c: PostprocessingChoice): string {
  const row = (name: string, s: PostprocessingChoice["without"]) =>
    `| ${name} | ${f(s.f1)} | ${f(s.dice)} | ${s.truePositives} | ${s.falsePositives} |`;
  return [
    "| rule | pooled lesion F1 | mean voxel Dice | detected lesions | false positives |",
    "|---|---|---|---|---|",
    row("none", c.without),
    ...c.candidates.map((s) => row(describeRule(s.rule), s)),
  ].join("\n");
}

export const postprocessVerb: Verb = {
  name: "postprocess",
  args: "PREDICTIONS",
  summary: "choose a postprocessing rule on cross-validation predictions and record it with the runs",
  help: `  PREDICTIONS      held-out predictions of cross-validation ({case}.nii.gz, and {case}_prob.nii.gz from
                   predict --save-probabilities to try peak-probability rules too): each case predicted
                   by the fold's model that did not train on it, as \`experiment\` writes them
  --reference DIR  the reference label maps ({case}.nii.gz, e.g. the dataset's labelsTr)
  --label N        the lesion label value in the references (default 1)
  --record RUN,…   write the chosen rule to these runs' postprocessing.json (predict applies it;
                   \`predict --no-postprocessing\` does not)
Tries removing components smaller than 2–100 voxels (and, with probability maps, whose peak lesion
probability is below 0.6–0.95); keeps the rule with the best pooled lesion F1 among those that raise it and
do not lower the mean voxel Dice, else none. Writes PREDICTIONS/postprocessing.json with every candidate.
  --json           JSON lines`,
  options: {
    reference: { type: "string" },
    label: { type: "string", default: "1" },
    record: { type: "string" },
    json: { type: "boolean", default: false },
  },
  async run(values, positionals) {
    if (positionals.length !== 1) throw new CliError("expected the PREDICTIONS folder", EXIT.usage);
    if (!values.reference) throw new CliError("--reference DIR is required", EXIT.usage);
    const predictions = path.resolve(positionals[0]);
    const reference = path.resolve(String(values.reference));
    for (const [dir, what] of [
      [predictions, "predictions folder"],
      [reference, "reference folder"],
    ]) {
      if (!existsSync(dir)) throw new CliError(`${dir}: no such ${what}`, EXIT.environment);
      if (!statSync(dir).isDirectory()) throw new CliError(`${dir}: not a folder (${what})`, EXIT.usage);
    }
    const runs = values.record
      ? String(values.record)
          .split(",")
          .map((r) => path.resolve(r))
      : [];
    for (const run of runs)
      if (!new TrainingRun(run).isRun())
        throw new CliError(`${run}: not a training run (no training.json)`, EXIT.environment);
    const json = Boolean(values.json);
    let progress: Progress | null = null;
    let choice: PostprocessingChoice;
    try {
      choice = await determinePostprocessing(predictions, reference, {
        lesionLabel: intOption(values, "label", 1, 0),
        onCase: (id, total) => {
          progress ??= new Progress({ label: "postprocess", total, json });
          progress.tick(1, { case: id });
        },
      });
    } catch (error) {
      throw new CliError((error as Error).message, EXIT.failure);
    }
    writeFileAtomicSync(path.join(predictions, "postprocessing.json"), `${JSON.stringify(choice, null, 2)}\n`);
    const record = postprocessingRecord(choice, predictions, reference);
    for (const run of runs) new TrainingRun(run).writePostprocessing(record);
    const chosen = describeRule(choice.rule);
    if (json) {
      process.stdout.write(`${JSON.stringify({ event: "postprocessing", ...record, runs })}\n`);
      return EXIT.ok;
    }
    process.stdout.write(
      `${table(choice)}\n\nchosen: ${chosen}${isNoPostprocessing(choice.rule) ? " (no rule raised the lesion F1 without lowering the voxel Dice)" : ` (F1 ${f(choice.without.f1)} → ${f(choice.chosen.f1)}, Dice ${f(choice.without.dice)} → ${f(choice.chosen.dice)})`}\n${runs.length ? `recorded with ${runs.length} run(s): predict applies it\n` : ""}`,
    );
    return EXIT.ok;
  },
};
