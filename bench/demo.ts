import os from "node:os";
// npm run bench -- demo [--seeds 1,2,3] [--out DIR] [--device cpu] [--epochs 50 --iterations 30]
// `backsplit demo` over several seeds (each seed: new phantoms, new initialisation, new sampling), to
// see whether the arms differ by more than the seed-to-seed spread. One JSON line per arm with the
// mean, SD and per-seed values of lesion F1, small-lesion recall, Dice and false positives, then one
// line per BackSplit arm with its paired (same seed) differences to binary.
import path from "node:path";
import { DEMO_ARMS, type DemoRow, runDemo } from "../src/demo/demo.js";
import { mean } from "../src/evaluate/stats.js";
import { workerSteps } from "../src/jobs/worker-steps.js";
import { writeFileAtomicSync } from "../src/util/atomic.js";
import { parseArgs } from "./lib/args.js";

const { values } = parseArgs({
  options: {
    seeds: { type: "string", default: "1,2,3" },
    out: { type: "string", default: path.join(os.tmpdir(), "backsplit-bench-demo") },
    device: { type: "string", default: "cpu" },
    epochs: { type: "string", default: "50" },
    iterations: { type: "string", default: "30" },
    json: { type: "boolean", default: false },
  },
});
const seeds = values.seeds.split(",").map(Number);
const sd = (v: number[]) =>
  v.length < 2 ? 0 : Math.sqrt(v.reduce((s, x) => s + (x - mean(v)) ** 2, 0) / (v.length - 1));
const bySeed: DemoRow[][] = [];
const started = performance.now();
for (const seed of seeds) {
  const r = await runDemo(
    {
      out: path.join(path.resolve(values.out), `seed${seed}`),
      seed,
      device: values.device,
      train: 12,
      test: 8,
      epochs: Number(values.epochs),
      iterations: Number(values.iterations),
      features: [8, 16, 32],
      patch: [24, 24, 24],
    },
    { log: (m) => process.stderr.write(`[demo seed ${seed}] ${m}\n`), ...workerSteps(Boolean(values.json)) },
  );
  bySeed.push(r.rows);
}
const metrics = ["lesionF1", "smallLesionRecall", "recall", "dice", "falsePositivesPerCase"] as const;
const lines: string[] = [];
for (const [a, arm] of DEMO_ARMS.entries()) {
  const line: Record<string, unknown> = { bench: "demo", arm: arm.name, seeds };
  for (const m of metrics) {
    const v = bySeed.map((rows) => rows[a][m] ?? Number.NaN);
    line[m] = { mean: mean(v), sd: sd(v), perSeed: v };
  }
  lines.push(JSON.stringify(line));
}
for (const [a, arm] of DEMO_ARMS.entries()) {
  if (a === 0) continue;
  const line: Record<string, unknown> = { bench: "demo", comparison: `${arm.name} - binary`, seeds };
  for (const m of metrics) {
    const d = bySeed.map((rows) => (rows[a][m] ?? Number.NaN) - (rows[0][m] ?? Number.NaN));
    line[m] = {
      meanDifference: mean(d),
      sd: sd(d),
      wins: d.filter((x) => (m === "falsePositivesPerCase" ? x < 0 : x > 0)).length,
      perSeed: d,
    };
  }
  lines.push(JSON.stringify(line));
}
for (const l of lines) process.stdout.write(`${l}\n`);
writeFileAtomicSync(path.join(path.resolve(values.out), "summary.jsonl"), `${lines.join("\n")}\n`);
process.stderr.write(`${((performance.now() - started) / 60000).toFixed(1)} min for ${seeds.length} seeds\n`);
