import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fingerprintDataset, writeFingerprint } from "../../plan/fingerprint.js";
import { type Plans, planExperiment, writePlans } from "../../plan/plan.js";
import { preprocessDataset } from "../../preprocess/preprocess.js";
import { Progress } from "../../util/progress.js";
import { openDatasetArg } from "../dataset-arg.js";
import { CliError, EXIT } from "../exit-codes.js";
import type { OptionValues, Verb } from "../verb.js";

const outDir = (values: OptionValues, root: string) =>
  values.out ? String(values.out) : path.join(root, "preprocessed");

async function makePlans(
  values: OptionValues,
  positionals: string[],
): Promise<{ plans: Plans; out: string; file: string }> {
  const ds = openDatasetArg(positionals);
  const out = outDir(values, ds.root);
  const progress = new Progress({
    label: "fingerprint",
    total: Math.max(ds.training.length, 1),
    json: Boolean(values.json),
  });
  const fingerprint = await fingerprintDataset(ds, {
    workers: values.workers ? Number(values.workers) : undefined,
    onCase: () => progress.tick(),
  });
  writeFingerprint(out, fingerprint);
  const plans = planExperiment(ds, fingerprint, {
    device: String(values.device ?? "cpu"),
    memoryBudgetGb: values["memory-gb"] ? Number(values["memory-gb"]) : undefined,
  });
  return { plans, out, file: writePlans(out, plans) };
}

function describe(plans: Plans): string {
  return Object.entries(plans.configurations)
    .map(
      ([name, c]) =>
        `${name.padEnd(11)} spacing ${c.spacing.join("×")} mm  patch ${c.patch_size.join("×")}  batch ${c.batch_size}  stages ${c.architecture.strides.length}  ~${c.estimated_memory_gb.toFixed(1)} GB`,
    )
    .join("\n");
}

const COMMON = `  --out DIR        where dataset_fingerprint.json, plans.json and the cache go (default DIR/preprocessed)
  --device D       cpu or cuda: picks the default memory budget (2 GB CPU, 8 GB CUDA)
  --memory-gb N    memory budget for patch and batch size
  --workers N      cases in parallel (default: number of cores)
  --json           JSON lines instead of progress bars`;

const OPTIONS = {
  out: { type: "string" as const },
  device: { type: "string" as const, default: "cpu" },
  "memory-gb": { type: "string" as const },
  workers: { type: "string" as const },
  json: { type: "boolean" as const, default: false },
};

export const planVerb: Verb = {
  name: "plan",
  args: "DIR",
  summary: "fingerprint a dataset and write plans.json (target spacing, normalisation, 2D/3D patch and batch sizes)",
  help: COMMON,
  options: OPTIONS,
  async run(values, positionals) {
    const { plans, file } = await makePlans(values, positionals);
    if (values.json) process.stdout.write(`${JSON.stringify({ event: "plans", file, plans })}\n`);
    else process.stdout.write(`${describe(plans)}\nwrote ${file}\n`);
    return EXIT.ok;
  },
};

export const preprocessVerb: Verb = {
  name: "preprocess",
  args: "DIR",
  summary: "crop, normalise, resample and cache every training case for fast patch reading",
  help: `  --config NAME    configuration from plans.json (default 3d_fullres)
  --replan         plan again even if plans.json exists
${COMMON}`,
  options: {
    ...OPTIONS,
    config: { type: "string", default: "3d_fullres" },
    replan: { type: "boolean", default: false },
  },
  async run(values, positionals) {
    const ds = openDatasetArg(positionals);
    const out = outDir(values, ds.root);
    const plansFile = path.join(out, "plans.json");
    const plans: Plans =
      existsSync(plansFile) && !values.replan
        ? (JSON.parse(readFileSync(plansFile, "utf8")) as Plans)
        : (await makePlans(values, positionals)).plans;
    const json = Boolean(values.json);
    const progress = new Progress({ label: "preprocess", total: Math.max(ds.training.length, 1), json });
    const dir = await preprocessDataset(ds, plans, String(values.config), out, {
      workers: values.workers ? Number(values.workers) : undefined,
      onCase: (_, id) => progress.tick(1, { case: id }),
    });
    if (json) process.stdout.write(`${JSON.stringify({ event: "done", dir, cases: ds.training.length })}\n`);
    else process.stdout.write(`${ds.training.length} cases cached in ${dir}\n`);
    return EXIT.ok;
  },
};
