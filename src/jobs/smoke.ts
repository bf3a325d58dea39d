// The smoke job: trains a tiny 3D U-Net for a few steps on a synthetic sphere and reports the loss.
// It runs on a worker thread (see cli/verbs/smoke.ts) so the progress bar keeps drawing.
import {
  F,
  Optimizer,
  arange,
  clipGradNorm,
  manualSeed,
  noGrad,
  polyLr,
  randn,
  resolveDevice,
  setThreads,
  stack,
  tidy,
} from "../engine/index.js";
import type { Tensor } from "../engine/tensor.js";
import { PlainUNet } from "../models/plain-unet.js";
import type { Report } from "../util/worker.js";

export interface SmokeInput {
  steps: number;
  size: number;
  device: string;
  threads?: number;
  seed: number;
}

export interface SmokeResult {
  device: string;
  threads: number;
  losses: number[];
  foregroundDice: number;
  secondsPerStep: number;
}

export function smokeTrain(input: SmokeInput, report: Report): SmokeResult {
  const threads = setThreads(input.threads);
  manualSeed(input.seed);
  const device = resolveDevice(input.device);
  const n = input.size;
  // A bright sphere in noise: target 1 inside radius n/4.
  const { image, target } = tidy(() => {
    const c = arange(0, n, 1, { dtype: "float32" }).sub((n - 1) / 2);
    const zz = c.reshape([n, 1, 1]).square();
    const yy = c.reshape([1, n, 1]).square();
    const xx = c.reshape([1, 1, n]).square();
    const inside = zz
      .add(yy)
      .add(xx)
      .lt((n / 4) ** 2);
    const image = inside
      .float()
      .add(randn([n, n, n]).mul(0.5))
      .reshape([1, 1, n, n, n])
      .to(device);
    return { image, target: inside.long().reshape([1, n, n, n]).to(device) };
  });
  const net = new PlainUNet({ dims: 3, inChannels: 1, numClasses: 2, features: [8, 16, 32] }).to(device);
  const optimizer = Optimizer.sgd(net.parameters(), { lr: 1e-2, momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
  const schedule = polyLr(1e-2, input.steps);
  const losses: number[] = [];
  const started = performance.now();
  for (let step = 0; step < input.steps; step++) {
    optimizer.lr = schedule(step);
    const loss = tidy(() => {
      const logits = net.forward(image) as Tensor;
      const l = F.crossEntropy(logits, target);
      optimizer.zeroGrad();
      l.backward();
      clipGradNorm(net.parameters(), 12);
      optimizer.step();
      return l.item();
    });
    losses.push(loss);
    report({ step: step + 1, loss });
  }
  const secondsPerStep = (performance.now() - started) / 1000 / input.steps;
  const foregroundDice = noGrad(() =>
    tidy(() => {
      const predicted = (net.eval().forward(image) as Tensor).argmax(1).eq(1);
      const truth = target.eq(1);
      const overlap = predicted.logicalAnd(truth).sum().item();
      const sizes = stack([predicted.sum(), truth.sum()]).sum().item();
      return (2 * overlap) / Math.max(sizes, 1);
    }),
  );
  net.dispose();
  optimizer.dispose();
  return { device, threads, losses, foregroundDice, secondsPerStep };
}
