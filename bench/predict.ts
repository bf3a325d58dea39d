// npm run bench -- predict [--file F] [--rounds 2] [--device cpu] [--threads 2] [--mirror] [--patch 48x80x64]
//   [--features 32,64,128,256,320] [--tile-average logits|probabilities]
// Sliding-window prediction time and peak memory of a binary (2-class) and a BackSplit (8-class)
// plain U-Net of the same architecture on the same MS-sized volume (or any volume given by --file, e.g. a
// BraTS FLAIR; cropped to its nonzero box). Each measurement runs in its own process (so peak memory is
// per arm), arms alternating; prints medians and "ratio" = split / binary. On CUDA the peak GPU memory of
// each arm is read from nvidia-smi (whole device, sampled every 50 ms while the arm runs; null without it).
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { manualSeed, resolveDevice, setThreads } from "../src/engine/index.js";
import { cropArray, nonzeroBox } from "../src/grid/box.js";
import { readVolume } from "../src/io/index.js";
import { PlainUNet } from "../src/models/plain-unet.js";
import { slidingWindow } from "../src/predict/sliding.js";
import { DEFAULT_TILE_AVERAGE } from "../src/predict/tile-average.js";
import { zscore } from "../src/preprocess/normalize.js";
import { parseArgs, tileAverageArg } from "./lib/args.js";
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
    mirror: { type: "boolean", default: false },
    // As predict's option: logits (the default) aggregate every class, probabilities only the lesion's.
    "tile-average": { type: "string", default: DEFAULT_TILE_AVERAGE },
    patch: { type: "string" },
    features: { type: "string" },
    child: { type: "string" },
  },
});
const tileAverage = tileAverageArg(values["tile-average"]);

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
if (values.patch) ARCH.patch = String(values.patch).split("x").map(Number);
if (values.features) {
  // Other widths: stride 1 at the first stage, 2 after it.
  ARCH.features = String(values.features).split(",").map(Number);
  ARCH.strides = ARCH.features.map((_, i) => (i === 0 ? [1, 1, 1] : [2, 2, 2]));
}

/** Device memory in use (MiB) by nvidia-smi, or null where there is none. */
function gpuMemoryUsedMb(): Promise<number | null> {
  return new Promise((resolve) =>
    execFile(
      "nvidia-smi",
      ["--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
      { timeout: 5000 },
      (err, stdout) => resolve(err ? null : Number(stdout.trim().split("\n")[0]) || null),
    ),
  );
}

/** Runs one arm in a child process; on CUDA, samples the device's memory while it runs. */
async function runChild(args: string[]): Promise<{ stdout: string; peakGpuMb: number | null }> {
  const cuda = String(values.device).startsWith("cuda");
  const baseline = cuda ? await gpuMemoryUsedMb() : null;
  let peak: number | null = null;
  let sampling = cuda && baseline !== null;
  const sampler = (async () => {
    while (sampling) {
      const used = await gpuMemoryUsedMb();
      if (used !== null && baseline !== null) peak = Math.max(peak ?? 0, used - baseline);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const child = spawn(process.execPath, args, { env: process.env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const code: number | null = await new Promise((resolve) => child.on("close", resolve));
  sampling = false;
  await sampler;
  if (code !== 0) throw new Error(stderr);
  return { stdout, peakGpuMb: peak };
}

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
  // As `backsplit predict` does under its default rule: the lesion channel (class 1) is kept (and, when
  // probabilities are averaged, the only one aggregated).
  slidingWindow(net, data, 1, shape, {
    patch: ARCH.patch,
    numClasses: classes,
    device,
    channels: [1],
    mirror: Boolean(values.mirror),
    tileAverage,
  });
  console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000, peakRssMb: peakRssMb(), shape }));
} else {
  const script = fileURLToPath(import.meta.url);
  const runs: Record<string, { seconds: number; peakRssMb: number; peakGpuMb: number | null; shape: number[] }[]> = {
    2: [],
    8: [],
  };
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const classes of [2, 8]) {
      const child = await runChild([
        script,
        "--child",
        String(classes),
        "--file",
        String(values.file),
        "--device",
        String(values.device),
        "--threads",
        String(values.threads),
        "--patch",
        ARCH.patch.join("x"),
        "--features",
        ARCH.features.join(","),
        ...(values.mirror ? ["--mirror"] : []),
        "--tile-average",
        tileAverage,
      ]);
      runs[classes].push({ ...JSON.parse(child.stdout.trim().split("\n").at(-1)!), peakGpuMb: child.peakGpuMb });
    }
  }
  const binary = median(runs[2].map((r) => r.seconds));
  const split = median(runs[8].map((r) => r.seconds));
  const peakGpu = (arm: 2 | 8) =>
    runs[arm].some((r) => r.peakGpuMb === null) ? null : Math.max(...runs[arm].map((r) => r.peakGpuMb as number));
  console.log(
    JSON.stringify({
      bench: "predict",
      device: values.device,
      threads: Number(values.threads),
      file: existsSync(String(values.file)) ? String(values.file) : null,
      shape: runs[2][0].shape,
      patch: ARCH.patch,
      features: ARCH.features,
      mirror: Boolean(values.mirror),
      tileAverage,
      rounds: Number(values.rounds),
      binaryMedianS: binary,
      splitMedianS: split,
      ratio: split / binary,
      binaryPeakRssMb: Math.max(...runs[2].map((r) => r.peakRssMb)),
      splitPeakRssMb: Math.max(...runs[8].map((r) => r.peakRssMb)),
      binaryPeakGpuMb: peakGpu(2),
      splitPeakGpuMb: peakGpu(8),
      target: 1.01,
    }),
  );
}
