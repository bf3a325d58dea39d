import path from "node:path";
import { type FisherResult, fisherMarkdown } from "../../fisher/summary.js";
import type { FisherJob } from "../../jobs/fisher.js";
import { Progress } from "../../util/progress.js";
import { runInWorker } from "../../util/worker.js";
import { CliError, EXIT } from "../exit-codes.js";
import { COMMON_HELP, COMMON_OPTIONS, type Verb, intOption } from "../verb.js";

const JOB = new URL("../../jobs/fisher.js", import.meta.url).href;

export const fisherVerb: Verb = {
  name: "fisher",
  summary: "Fisher information of a BackSplit model: split vs collapsed binary likelihood, per parameter group",
  help: `  --model RUN      a training run folder (training.json, checkpoints/)
  --data DIR       its dataset folder (default: the run's own)
  --patches N      patches to average over (default 16; one patch = one observation)
  --samples N      Monte Carlo label samples per patch (default 4)
  --cases C        val (default: the run's validation cases), train or all
  --map-case ID    case for the closed-form voxel map (default: the first patch case; "none" to skip)
  --out DIR        where fisher.json and the maps go (default RUN/fisher)

Estimates tr I_Y (split likelihood), tr I_Z (its binary collapse, p(Z=1|x) = p_lesion) and their gap
by Monte Carlo with labels sampled from the model, the empirical Fisher with the reference labels,
and the logit-space closed form (1 − p_lesion)(1 − ‖q‖²) per voxel. See docs/fisher.md.
${COMMON_HELP}`,
  options: {
    ...COMMON_OPTIONS,
    model: { type: "string" },
    data: { type: "string" },
    patches: { type: "string", default: "16" },
    samples: { type: "string", default: "4" },
    cases: { type: "string", default: "val" },
    "map-case": { type: "string" },
    out: { type: "string" },
  },
  async run(values) {
    if (!values.model) throw new CliError("--model RUN is required", EXIT.usage);
    const cases = String(values.cases);
    if (cases !== "val" && cases !== "train" && cases !== "all")
      throw new CliError("--cases must be val, train or all", EXIT.usage);
    const run = path.resolve(String(values.model));
    const job: FisherJob = {
      run,
      data: values.data ? path.resolve(String(values.data)) : undefined,
      cases,
      patches: intOption(values, "patches"),
      samples: intOption(values, "samples"),
      seed: intOption(values, "seed"),
      device: String(values.device),
      threads: values.threads ? intOption(values, "threads") : undefined,
      mapCase: values["map-case"] ? String(values["map-case"]) : null,
      out: values.out ? path.resolve(String(values.out)) : path.join(run, "fisher"),
    };
    if (job.patches < 2) throw new CliError("--patches must be at least 2 (standard errors)", EXIT.usage);
    if (job.samples < 1) throw new CliError("--samples must be at least 1", EXIT.usage);
    const json = Boolean(values.json);
    const progress = new Progress({ label: "fisher patches", total: job.patches, json });
    const result = (await runInWorker({
      module: JOB,
      exportName: "fisherJob",
      input: job,
      onReport: () => progress.tick(),
    })) as FisherResult;
    if (json) {
      process.stdout.write(`${JSON.stringify({ event: "fisher", ...result })}\n`);
      return EXIT.ok;
    }
    process.stdout.write(`${fisherMarkdown(result)}\nresults: ${path.join(job.out, "fisher.json")}\n`);
    return EXIT.ok;
  },
};
