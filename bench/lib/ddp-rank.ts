// One process of `bench ddp`: argv = port rank worldSize threads device steps globalBatch withGroup.
// Times training steps of a 3D U-Net (forward, loss, backward, gradient sum, clip, SGD) and the
// gradient sum alone; prints one JSON line (rank 0).
import {
  Optimizer,
  clipGradNorm,
  manualSeed,
  randint,
  randn,
  setThreads,
  synchronize,
  tidy,
} from "../../src/engine/index.js";
import { buildModel } from "../../src/models/registry.js";
import { DataParallel, joinGroup, localBatch } from "../../src/train/distributed.js";
import { deepSupervisionLoss } from "../../src/train/loss.js";

const [port, rank, worldSize, threads] = process.argv.slice(2, 6).map(Number);
const device = process.argv[6];
const [steps, globalBatch] = process.argv.slice(7, 9).map(Number);
const withGroup = process.argv[9] === "group";
setThreads(threads);
manualSeed(1);
const spec = device.startsWith("cuda")
  ? { features: [32, 64, 128, 256, 320], patch: [96, 96, 96], strides: [1, 2, 2, 2, 2] }
  : { features: [8, 16, 32, 64], patch: [32, 32, 32], strides: [1, 2, 2, 2] };
const net = buildModel("plain", {
  dims: 3,
  inChannels: 1,
  numClasses: 4,
  features: spec.features,
  strides: spec.strides,
  kernels: spec.features.map(() => 3),
  deepSupervision: true,
}).to(device);
const params = net.parameters();
const group = withGroup
  ? joinGroup(
      {
        rank,
        localRank: rank,
        worldSize,
        masterAddr: "127.0.0.1",
        masterPort: port,
        agentStore: false,
        attempt: 0,
        launcher: "env",
      },
      device,
      120000,
    )
  : null;
const dp = group ? new DataParallel(group, params) : null;
dp?.broadcastFromMain();
const optimizer = Optimizer.sgd(params, { lr: 0.01, momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
const per = localBatch(globalBatch, worldSize);
const sync = () => {
  if (device.startsWith("cuda")) synchronize(device as "cuda");
};
const stepMs: number[] = [];
const reduceMs: number[] = [];
for (let s = 0; s < steps; s++) {
  sync();
  const t0 = performance.now();
  let reduced = 0;
  tidy(() => {
    const x = randn([per, 1, ...spec.patch], { device });
    const y = randint(0, 4, [per, ...spec.patch], { device });
    optimizer.zeroGrad();
    const out = net.forward(x);
    const l = deepSupervisionLoss(Array.isArray(out) ? out : [out], y, {
      lesionClasses: [1],
      diceOver: "lesion",
      batchDice: true,
      distributed: dp ? { globalSum: dp.globalSum, worldSize } : undefined,
    });
    l.backward();
    sync();
    const r0 = performance.now();
    dp?.reduceGradients();
    sync();
    reduced = performance.now() - r0;
    clipGradNorm(params, 12);
    optimizer.step();
  });
  sync();
  if (s > 0) {
    // the first step warms the allocator and kernels up
    stepMs.push(performance.now() - t0);
    reduceMs.push(reduced);
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
if (rank === 0) {
  console.log(
    JSON.stringify({
      worldSize,
      threads,
      device,
      group: withGroup,
      perRankBatch: per,
      steps: stepMs.length,
      stepMs: median(stepMs),
      reduceMs: median(reduceMs),
      reduceShare: median(reduceMs) / median(stepMs),
      parameters: params.reduce((n, p) => n + p.numel, 0),
    }),
  );
}
group?.destroy();
