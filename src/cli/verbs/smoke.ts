import type { SmokeInput, SmokeResult } from "../../jobs/smoke.js";
import { Progress } from "../../util/progress.js";
import { runInWorker } from "../../util/worker.js";
import { EXIT } from "../exit-codes.js";
import { COMMON_HELP, COMMON_OPTIONS, type Verb, intOption } from "../verb.js";

export const smokeVerb: Verb = {
  name: "smoke",
  summary: "train a tiny 3D U-Net for a few steps on a synthetic sphere (engine check)",
  help: `  --steps N      training steps (default 30)
  --size N       volume edge in voxels (default 32)
${COMMON_HELP}`,
  options: { ...COMMON_OPTIONS, steps: { type: "string", default: "30" }, size: { type: "string", default: "32" } },
  async run(values) {
    const input: SmokeInput = {
      steps: intOption(values, "steps"),
      size: intOption(values, "size"),
      device: String(values.device),
      threads: values.threads ? intOption(values, "threads") : undefined,
      seed: intOption(values, "seed"),
    };
    const json = Boolean(values.json);
    const progress = new Progress({ label: "smoke", total: input.steps, json });
    const result = await runInWorker<SmokeInput, SmokeResult>({
      module: new URL("../../jobs/smoke.js", import.meta.url).href,
      exportName: "smokeTrain",
      input,
      onReport: (m) => progress.tick(1, { loss: (m as { loss: number }).loss }),
    });
    if (json) {
      process.stdout.write(`${JSON.stringify({ event: "result", ...result })}\n`);
    } else {
      const first = result.losses[0];
      const last = result.losses.at(-1) ?? Number.NaN;
      process.stdout.write(
        `smoke: ${input.steps} steps on ${result.device} (${result.threads} threads), ` +
          `loss ${first.toFixed(4)} → ${last.toFixed(4)}, sphere Dice ${result.foregroundDice.toFixed(3)}, ` +
          `${(result.secondsPerStep * 1000).toFixed(0)} ms/step\n`,
      );
    }
    return last(result.losses) < result.losses[0] ? EXIT.ok : EXIT.failure;
  },
};

function last(values: number[]): number {
  return values[values.length - 1];
}
