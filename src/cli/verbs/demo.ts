import path from "node:path";
import { type DemoOptions, runDemo } from "../../demo/demo.js";
import { workerSteps } from "../../jobs/worker-steps.js";
import { launchEnv } from "../../train/launch-env.js";
import { CliError, EXIT } from "../exit-codes.js";
import { COMMON_HELP, COMMON_OPTIONS, type Verb, intOption } from "../verb.js";

export const demoVerb: Verb = {
  name: "demo",
  summary: "the whole idea on generated phantoms: sources, binary vs BackSplit training, evaluation, report",
  help: `  --out DIR        where everything goes (default ./backsplit-demo)
  --epochs N       training epochs per arm (default 50)
  --iterations N   iterations per epoch (default 30)
  --train N        training phantoms (default 12); --test N held-out phantoms (default 8)
  --nproc N        each training data-parallel over N local processes (see train --nproc)
${COMMON_HELP}`,
  options: {
    ...COMMON_OPTIONS,
    seed: { type: "string", default: "1" },
    device: { type: "string", default: "cpu" },
    out: { type: "string", default: "backsplit-demo" },
    epochs: { type: "string", default: "50" },
    iterations: { type: "string", default: "30" },
    train: { type: "string", default: "12" },
    test: { type: "string", default: "8" },
    nproc: { type: "string", default: "1" },
  },
  async run(values) {
    const json = Boolean(values.json);
    if (launchEnv())
      throw new CliError(
        "the demo prepares its data in one process: run it without torchrun/srun, with --nproc N for data-parallel training",
        EXIT.usage,
      );
    const o: DemoOptions = {
      out: path.resolve(String(values.out)),
      seed: intOption(values, "seed"),
      device: String(values.device),
      threads: values.threads ? intOption(values, "threads", undefined, 1) : undefined,
      train: intOption(values, "train", undefined, 1),
      test: intOption(values, "test", undefined, 1),
      epochs: intOption(values, "epochs", undefined, 1),
      iterations: intOption(values, "iterations", undefined, 1),
      features: [8, 16, 32],
      patch: [24, 24, 24],
    };
    const started = performance.now();
    const result = await runDemo(o, {
      log: (m) => process.stderr.write(json ? "" : `[demo] ${m}\n`),
      ...workerSteps(json, { nproc: intOption(values, "nproc", 1, 1) }),
    });
    const minutes = (performance.now() - started) / 60000;
    if (json) {
      process.stdout.write(`${JSON.stringify({ event: "demo", rows: result.rows, report: result.report, minutes })}\n`);
      return EXIT.ok;
    }
    const f = (v: number | null) => (v === null ? "–" : v.toFixed(3));
    const lines = [
      "",
      "| arm | lesion F1 | lesion recall | small-lesion recall (< 30 mm³) | Dice | false positives / case | Fisher tr I_Y / tr I_Z |",
      "|---|---|---|---|---|---|---|",
      ...result.rows.map(
        (r) =>
          `| ${r.arm} | ${f(r.lesionF1)} | ${f(r.recall)} | ${f(r.smallLesionRecall)} | ${f(r.dice)} | ${f(r.falsePositivesPerCase)} | ${r.fisher ? (r.fisher.traceY / r.fisher.traceZ).toFixed(1) : "–"} |`,
      ),
      "",
      result.markdown,
      `report: ${result.report}  (${minutes.toFixed(1)} min)`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    return EXIT.ok;
  },
};
