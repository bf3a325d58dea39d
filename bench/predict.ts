// npm run bench -- predict [--file F] [--rounds 2] [--device cpu] [--threads 2]
// Sliding-window prediction time and peak memory of a binary (2-class) and a BackSplit (8-class)
// plain U-Net of the same architecture on the same MS-sized volume. Each measurement runs in its own
// process (so peak memory is per arm), arms alternating; prints medians and "ratio" = split / binary.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { manualSeed, resolveDevice, setThreads } from "../src/engine/index.js";
import { cropArray, nonzeroBox } from "../src/grid/box.js";
import { readVolume } from "../src/io/index.js";
import { PlainUNet } from "../src/models/plain-unet.js";
import { slidingWindow } from "../src/predict/sliding.js";
import { zscore } from "../src/preprocess/normalize.js";
import { median } from "./twin.js";

const { values } = parseArgs({
  options: {
    file: {
      type: "string",
      default: path.resolve("..", "shared", "data", "ms-lesjak2017", "patient07", "FLAIR.nii.gz"),
    },
    rounds: { type: "string", default: "2" },
    device: { type: "string", default: "cpu" },
    threads: { type: "string", default: "2" },
    child: { type: "string" },
  },
});

// The CPU plan of the MS data (backsplit plan): 5 stages, patch 48×80×64.
const ARCH = {
  features: [32, 64, 128, 256, 320],
  strides: [
    [1, 1, 1],
    [2, 2, 2],
    [2, 2, 2],
    [2, 2, 2],
    [1, 2, 2],
  ],
  patch: [48, 80, 64],
};

function peakRssMb(): number {
  const status = readFileSync("/proc/self/status", "utf8");
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

if (values.child) {
  setThreads(Number(values.threads));
  const device = resolveDevice(String(values.device));
  const classes = Number(values.child);
  const file = String(values.file);
  let data: Float32Array;
  let shape: number[];
  if (existsSync(file)) {
    const v = await readVolume(file);
    const full = [...v.shape].reverse();
    const box = nonzeroBox([v.data], full);
    shape = box.end.map((e, a) => e - box.start[a]);
    data = zscore(cropArray(Float32Array.from(v.data), full, box, (n) => new Float32Array(n)));
  } else {
    shape = [126, 160, 127];
    data = Float32Array.from({ length: shape[0] * shape[1] * shape[2] }, (_, i) => Math.sin(i));
  }
  manualSeed(0);
  const net = new PlainUNet({
    dims: 3,
    inChannels: 1,
    numClasses: classes,
    features: ARCH.features,
    strides: ARCH.strides,
  })
    .to(device)
    .eval();
  const started = performance.now();
  // As `backsplit predict` does under its default rule: only the lesion channel (class 1) is aggregated.
  slidingWindow(net, data, 1, shape, { patch: ARCH.patch, numClasses: classes, device, channels: [1] });
  console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000, peakRssMb: peakRssMb(), shape }));
} else {
  const script = fileURLToPath(import.meta.url);
  const runs: Record<string, { seconds: number; peakRssMb: number; shape: number[] }[]> = { 2: [], 8: [] };
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const classes of [2, 8]) {
      const child = spawnSync(
        process.execPath,
        [
          script,
          "--child",
          String(classes),
          "--file",
          String(values.file),
          "--device",
          String(values.device),
          "--threads",
          String(values.threads),
        ],
        {
          encoding: "utf8",
          env: process.env,
        },
      );
      if (child.status !== 0) throw new Error(child.stderr);
      runs[classes].push(JSON.parse(child.stdout.trim().split("\n").at(-1)!));
    }
  }
  const binary = median(runs[2].map((r) => r.seconds));
  const split = median(runs[8].map((r) => r.seconds));
  console.log(
    JSON.stringify({
      bench: "predict",
      device: values.device,
      threads: Number(values.threads),
      shape: runs[2][0].shape,
      patch: ARCH.patch,
      binaryMedianS: binary,
      splitMedianS: split,
      ratio: split / binary,
      binaryPeakRssMb: Math.max(...runs[2].map((r) => r.peakRssMb)),
      splitPeakRssMb: Math.max(...runs[8].map((r) => r.peakRssMb)),
      target: 1.01,
    }),
  );
}
