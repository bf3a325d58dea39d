// Native memory: a long training loop must not grow, and the finalizer frees forgotten tensors.
import assert from "node:assert/strict";
import { test } from "node:test";
import { F, Optimizer, type Tensor, manualSeed, nn, randint, randn, setThreads, tidy } from "../../src/engine/index.js";

const gc = (globalThis as { gc?: () => void }).gc;
const rssMb = () => process.memoryUsage().rss / 2 ** 20;

test("1,000 training steps inside tidy() do not grow memory", () => {
  setThreads(2);
  manualSeed(0);
  const net = new nn.Sequential(
    new nn.Conv({ dims: 3, inChannels: 1, outChannels: 8, kernel: 3, padding: "same" }),
    new nn.InstanceNorm(8),
    new nn.LeakyReLU(),
    new nn.Conv({ dims: 3, inChannels: 8, outChannels: 3, kernel: 1 }),
  );
  const opt = Optimizer.sgd(net.parameters(), { lr: 0.01, momentum: 0.99, nesterov: true });
  const x = randn([2, 1, 12, 12, 12]);
  const y = randint(0, 3, [2, 12, 12, 12]);
  let baseline = 0;
  for (let step = 0; step < 1000; step++) {
    tidy(() => {
      const loss = F.crossEntropy(net.forward(x) as Tensor, y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
    if (step === 100) baseline = rssMb();
  }
  const growth = rssMb() - baseline;
  assert.ok(growth < 16, `RSS grew by ${growth.toFixed(1)} MB between step 100 and step 1000`);
});

test("the finalizer frees tensors that were never disposed", { skip: gc ? false : "needs --expose-gc" }, async () => {
  // 400 × 8 MB = 3.2 GB if nothing were freed.
  const before = rssMb();
  for (let i = 0; i < 400; i++) {
    randn([2 * 1024 * 1024]).add(1);
    if (i % 20 === 0) {
      gc!();
      await new Promise((r) => setImmediate(r));
    }
  }
  gc!();
  await new Promise((r) => setImmediate(r));
  const growth = rssMb() - before;
  assert.ok(growth < 600, `RSS grew by ${growth.toFixed(0)} MB`);
});
