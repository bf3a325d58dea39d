// One process of the data-parallel equivalence test: argv = port rank worldSize globalBatch steps out.json.
// World size 1 trains on the whole batch without a process group; otherwise each rank takes its slice.
import { writeFileSync } from "node:fs";
import { Optimizer, type Tensor, clipGradNorm, manualSeed, setThreads, tensor, tidy } from "../../src/engine/index.js";
import { type ArchitectureName, buildModel } from "../../src/models/registry.js";
import { DataParallel, joinGroup, localBatch } from "../../src/train/distributed.js";
import { type LossOptions, deepSupervisionLoss } from "../../src/train/loss.js";
import { normals, prng } from "../helpers/data.js";

const [port, rank, worldSize, globalBatch, steps] = process.argv.slice(2, 7).map(Number);
const out = process.argv[7];
setThreads(1);
const size = 32;
const classes = 4; // background, lesion, two background sub-classes (a BackSplit label map)

// The same global batch in every process: images and targets from fixed seeds.
const random = prng(11);
const images = normals(globalBatch * size * size, 5);
const targets = Array.from({ length: globalBatch * size * size }, (_, i) => {
  const x = i % size;
  const y = Math.floor(i / size) % size;
  if ((x - 12) ** 2 + (y - 15) ** 2 < 9 + 3 * Math.floor(i / (size * size))) return 1;
  return random() < 0.05 ? -1 : x < 10 ? 2 : y > 20 ? 3 : 0; // -1: an ignored voxel
});
const per = worldSize > 1 ? localBatch(globalBatch, worldSize) : globalBatch;
const first = worldSize > 1 ? rank * per : 0;
const pixels = size * size;

const group =
  worldSize > 1
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
        "cpu",
        30000,
      )
    : null;

const results: Record<string, { weights: number[]; losses: number[] }> = {};
for (const arch of ["plain", "resenc"] as ArchitectureName[]) {
  for (const batchDice of [true, false]) {
    // Rank 1 starts from other weights on purpose: the broadcast from rank 0 must fix that.
    manualSeed(1 + rank);
    const net = buildModel(arch, {
      dims: 2,
      inChannels: 1,
      numClasses: classes,
      features: [4, 8, 16],
      strides: [1, 2, 2],
      kernels: [3, 3, 3],
      deepSupervision: true,
    });
    const params = net.parameters();
    const dp = group ? new DataParallel(group, params, 4096) : null; // small buckets: several per step
    dp?.broadcastFromMain([...params, ...[...net.namedBuffers()].map(([, b]) => b)]);
    const optimizer = Optimizer.sgd(params, { lr: 0.01, momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
    const options: LossOptions = {
      lesionClasses: [1],
      diceOver: "lesion",
      ignoreValue: -1,
      batchDice,
      distributed: dp ? { globalSum: dp.globalSum, worldSize } : undefined,
    };
    const losses: number[] = [];
    for (let step = 0; step < steps; step++) {
      const loss = tidy(() => {
        const x = tensor(images.slice(first * pixels, (first + per) * pixels), [per, 1, size, size]);
        const y = tensor(targets.slice(first * pixels, (first + per) * pixels), [per, size, size], { dtype: "int64" });
        optimizer.zeroGrad();
        const outputs = net.forward(x);
        const l = deepSupervisionLoss(Array.isArray(outputs) ? outputs : [outputs as Tensor], y, options);
        l.backward();
        dp?.reduceGradients();
        clipGradNorm(params, 12);
        optimizer.step();
        return dp ? dp.globalSum(l).item() : l.item();
      });
      losses.push(loss);
    }
    results[`${arch}/${batchDice ? "batch" : "sample"}`] = {
      weights: params.flatMap((p) => Array.from(p.toArray())),
      losses,
    };
    optimizer.dispose();
  }
}
if (rank === 0) writeFileSync(out, JSON.stringify(results));
group?.destroy();
