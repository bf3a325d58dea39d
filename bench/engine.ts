import {
  F,
  GradScaler,
  Optimizer,
  type Tensor,
  autocast,
  clipGradNorm,
  engineInfo,
  manualSeed,
  randint,
  randn,
  resolveDevice,
  setCudnnBenchmark,
  setThreads,
  synchronize,
  tidy,
} from "../src/engine/index.js";
import { PlainUNet } from "../src/models/plain-unet.js";
// npm run bench -- engine [--size 64] [--batch 2] [--device cpu|cuda] [--threads 2] [--rounds 4] [--steps 5] [--amp]
//   [--classes 2,8] [--features 16,32,64]
// Times one training step of the same 3D U-Net through backsplit's engine and through a PyTorch twin
// (bench/py/unet_twin.py) in the same run, interleaving blocks of steps so that machine noise hits both.
// Prints one JSON line per head size (2 classes = binary, 8 = BackSplit-sized) and a summary line.
import { parseArgs } from "./lib/args.js";
import { PythonTwin, median } from "./twin.js";

const { values } = parseArgs({
  options: {
    size: { type: "string", default: "64" },
    batch: { type: "string", default: "2" },
    device: { type: "string", default: "cpu" },
    threads: { type: "string", default: "2" },
    rounds: { type: "string", default: "4" },
    steps: { type: "string", default: "5" },
    classes: { type: "string", default: "2,8" },
    features: { type: "string", default: "16,32,64" },
    amp: { type: "boolean", default: false },
  },
});
const size = Number(values.size);
const batch = Number(values.batch);
const threads = Number(values.threads);
const rounds = Number(values.rounds);
const stepsPerRound = Number(values.steps);
const device = resolveDevice(values.device);
const amp = Boolean(values.amp) && device.startsWith("cuda");
const features = String(values.features).split(",").map(Number);
setThreads(threads);
if (device.startsWith("cuda")) setCudnnBenchmark(true);

function ours(classes: number) {
  manualSeed(0);
  const net = new PlainUNet({ dims: 3, inChannels: 1, numClasses: classes, features }).to(device);
  const opt = Optimizer.sgd(net.parameters(), { lr: 1e-2, momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
  const x = randn([batch, 1, size, size, size], { device });
  const y = randint(0, classes, [batch, size, size, size], { device });
  const scaler = new GradScaler({ enabled: amp });
  return (n: number): number[] => {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      tidy(() => {
        opt.zeroGrad();
        const loss = autocast(() => F.crossEntropy(net.forward(x) as Tensor, y), "float16", amp);
        scaler.scaleLoss(loss).backward();
        scaler.unscale(net.parameters());
        clipGradNorm(net.parameters(), 12);
        scaler.step(opt);
        scaler.update();
        loss.item();
      });
      synchronize(device);
      times.push((performance.now() - t0) / 1000);
    }
    return times;
  };
}

const twin = new PythonTwin("unet_twin.py", { ...process.env, OMP_NUM_THREADS: String(threads) }, ["torch"]);
const results: Record<string, unknown>[] = [];
for (const classes of String(values.classes).split(",").map(Number)) {
  const step = ours(classes);
  const built = (await twin.ask({ cmd: "build", classes, features, size, batch, device, threads, amp })) as {
    torch: string;
  };
  // Warm-up (allocator, oneDNN/cuDNN algorithm choice) on both sides.
  step(2);
  await twin.ask({ cmd: "steps", n: 2 });
  const oursTimes: number[] = [];
  const torchTimes: number[] = [];
  for (let r = 0; r < rounds; r++) {
    oursTimes.push(...step(stepsPerRound));
    torchTimes.push(...((await twin.ask({ cmd: "steps", n: stepsPerRound })) as { times: number[] }).times);
  }
  const line = {
    bench: "engine",
    classes,
    device,
    threads,
    size,
    batch,
    features,
    amp,
    libtorch: engineInfo().version,
    pytorch: built.torch,
    oursMedianS: median(oursTimes),
    pytorchMedianS: median(torchTimes),
    ratio: median(oursTimes) / median(torchTimes),
    steps: oursTimes.length,
    glibcTunables: process.env.GLIBC_TUNABLES ?? null,
  };
  results.push(line);
  console.log(JSON.stringify(line));
}
twin.close();
if (results.length === 2) {
  const [binary, split] = results as { oursMedianS: number; pytorchMedianS: number; ratio: number }[];
  console.log(
    JSON.stringify({
      bench: "engine-summary",
      ratio: Math.max(binary.ratio, split.ratio),
      splitOverBinaryOurs: split.oursMedianS / binary.oursMedianS,
      splitOverBinaryPytorch: split.pytorchMedianS / binary.pytorchMedianS,
      target: 1.03,
    }),
  );
}
