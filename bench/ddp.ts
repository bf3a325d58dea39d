// npm run bench -- ddp [--steps 12] [--device cpu|cuda] [--out FILE]
// Data-parallel cost on this machine, against references measured in the same run:
// - CPU: the training step of 2 ranks × 1 thread (Gloo, batch 2 each) vs 1 process × 2 threads (batch 4),
//   and the share of a step spent summing gradients;
// - CUDA: 1 rank with an NCCL group vs no group (overhead goal ≤ 3 %), and 2 ranks when 2 GPUs exist.
// Prints JSON lines (one per set-up, then a summary with the ratios).
import { spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { engineInfo } from "../src/engine/index.js";
import { freePort } from "../src/train/launch.js";
import { parseArgs } from "./lib/args.js";

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "12" },
    device: { type: "string", default: "cpu" },
    out: { type: "string" },
  },
});
const rankScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "lib", "ddp-rank.js");
const steps = Number(values.steps);
const device = values.device;

type Row = { worldSize: number; threads: number; stepMs: number; reduceMs: number; reduceShare: number };

async function measure(worldSize: number, threads: number, batch: number, withGroup: boolean): Promise<Row> {
  const port = await freePort();
  const outputs = await Promise.all(
    Array.from({ length: worldSize }, (_, rank) => {
      const rankDevice = device === "cuda" ? `cuda:${rank}` : "cpu";
      const args = [rankScript, port, rank, worldSize, threads, rankDevice, steps, batch, withGroup ? "group" : "none"];
      return new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, args.map(String), { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.on("data", (d) => {
          out += d;
        });
        child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`rank ${rank} exited ${code}`))));
      });
    }),
  );
  const row = JSON.parse(outputs[0].trim()) as Row;
  emit({ bench: "ddp", ...row });
  return row;
}

function emit(line: Record<string, unknown>): void {
  const text = JSON.stringify(line);
  console.log(text);
  if (values.out) appendFileSync(values.out, `${text}\n`);
}

const info = engineInfo();
const machine = `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.availableParallelism()} cores, libtorch ${info.version}`;
if (device === "cpu") {
  // Global batch 4 (2 per rank): libtorch 1.13's CPU Conv3d picks a ~2–4× slower kernel for batch 1
  // than for batch 2 on this machine (also in PyTorch itself), which would swamp what is measured here.
  const single = await measure(1, 2, 4, false);
  const ranks = await measure(2, 1, 4, true);
  const oneRankGroup = await measure(1, 2, 4, true);
  emit({
    bench: "ddp",
    summary: true,
    device,
    machine,
    steps,
    ratio: {
      stepTwoRanksVsOneProcess: ranks.stepMs / single.stepMs,
      groupOverheadAtWorldSize1: oneRankGroup.stepMs / single.stepMs,
    },
    reduceShareTwoRanks: ranks.reduceShare,
  });
} else {
  const single = await measure(1, 1, 2, false);
  const grouped = await measure(1, 1, 2, true);
  const overhead = grouped.stepMs / single.stepMs;
  const two = info.cudaDeviceCount >= 2 ? await measure(2, 1, 4, true) : null;
  emit({
    bench: "ddp",
    summary: true,
    device,
    machine,
    steps,
    ratio: { ncclWorldSize1VsNoGroup: overhead, ...(two ? { twoGpusVsOne: two.stepMs / single.stepMs } : {}) },
    goal: { ncclOverheadAtMost3Percent: overhead <= 1.03 },
    reduceShareTwoGpus: two?.reduceShare ?? null,
  });
}
