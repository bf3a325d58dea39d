// The nn module system and a U-Net that must overfit one tiny volume.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  F,
  Optimizer,
  type Tensor,
  arange,
  manualSeed,
  nn,
  noGrad,
  randn,
  setThreads,
  tidy,
} from "../../src/engine/index.js";
import { PlainUNet } from "../../src/models/plain-unet.js";

function sphere(n: number, dims: 2 | 3): { image: Tensor; target: Tensor } {
  return tidy(() => {
    const c = arange(0, n, 1, { dtype: "float32" }).sub((n - 1) / 2);
    const r2 =
      dims === 3
        ? c
            .reshape([n, 1, 1])
            .square()
            .add(c.reshape([1, n, 1]).square())
            .add(c.reshape([1, 1, n]).square())
        : c
            .reshape([n, 1])
            .square()
            .add(c.reshape([1, n]).square());
    const inside = r2.lt((n / 3.5) ** 2);
    const shape = dims === 3 ? [1, 1, n, n, n] : [1, 1, n, n];
    const image = inside
      .float()
      .mul(2)
      .add(randn(shape.slice(2)).mul(0.3))
      .reshape(shape);
    return { image, target: inside.long().reshape([1, ...shape.slice(2)]) };
  });
}

function dice(logits: Tensor, target: Tensor): number {
  return tidy(() => {
    const p = logits.argmax(1).eq(1);
    const t = target.eq(1);
    return (2 * p.logicalAnd(t).sum().item()) / (p.sum().item() + t.sum().item());
  });
}

for (const dims of [3, 2] as const) {
  test(`a ${dims}D U-Net overfits one tiny volume`, () => {
    setThreads(2);
    manualSeed(dims);
    const { image, target } = sphere(dims === 3 ? 16 : 32, dims);
    const net = new PlainUNet({ dims, inChannels: 1, numClasses: 2, features: [8, 16, 32] });
    const opt = Optimizer.sgd(net.parameters(), { lr: 0.01, momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
    let first = 0;
    let last = 0;
    for (let step = 0; step < 80; step++) {
      last = tidy(() => {
        const loss = F.crossEntropy(net.forward(image) as Tensor, target);
        opt.zeroGrad();
        loss.backward();
        opt.step();
        return loss.item();
      });
      if (step === 0) first = last;
    }
    const d = noGrad(() => tidy(() => dice(net.eval().forward(image) as Tensor, target)));
    assert.ok(last < first * 0.3, `loss ${first} → ${last}`);
    assert.ok(d > 0.9, `Dice ${d}`);
  });
}

test("deep supervision returns one output per decoder stage, full resolution first", () => {
  const net = new PlainUNet({ dims: 3, inChannels: 2, numClasses: 5, features: [4, 8, 16], deepSupervision: true });
  const outs = noGrad(() => net.forward(randn([1, 2, 16, 16, 8]))) as Tensor[];
  assert.deepEqual(
    outs.map((o) => o.shape),
    [
      [1, 5, 16, 16, 8],
      [1, 5, 8, 8, 4],
    ],
  );
});

test("state dicts name every parameter and buffer, load strictly, and move with to()", () => {
  class Tiny extends nn.Sequential {}
  const a = new Tiny(
    new nn.Conv({ dims: 2, inChannels: 1, outChannels: 2, kernel: 3 }),
    new nn.BatchNorm(2),
    new nn.LeakyReLU(),
  );
  const names = [...a.stateDict().keys()];
  assert.deepEqual(names, ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"]);
  const b = new Tiny(
    new nn.Conv({ dims: 2, inChannels: 1, outChannels: 2, kernel: 3 }),
    new nn.BatchNorm(2),
    new nn.LeakyReLU(),
  );
  b.loadStateDict(a.stateDict());
  assert.deepEqual(b.stateDict().get("0.weight")!.toArray(), a.stateDict().get("0.weight")!.toArray());
  const partial = new Map(a.stateDict());
  partial.delete("1.running_var");
  assert.throws(() => b.loadStateDict(partial), /missing \[1\.running_var\]/);
  const wrong = new Map(a.stateDict());
  wrong.set("0.weight", randn([3, 1, 3, 3]));
  assert.throws(() => b.loadStateDict(wrong), /0\.weight has shape \[3,1,3,3\], the module expects \[2,1,3,3\]/);
  // Batch norm uses running statistics in eval mode and updates them in train mode.
  const x = randn([4, 1, 6, 6]).mul(3).add(5);
  noGrad(() => a.train().forward(x));
  const mean = a.stateDict().get("1.running_mean")!.toArray();
  assert.ok(
    mean.some((v) => v !== 0),
    "running mean updated in training mode",
  );
  noGrad(() => a.eval().forward(x));
  assert.deepEqual(a.stateDict().get("1.running_mean")!.toArray(), mean, "not updated in eval mode");
  a.to("float64");
  assert.ok([...a.stateDict().values()].every((t) => t.dtype === "float64"));
  assert.ok(a.parameters().every((p) => p.requiresGrad));
  assert.equal((a.forward(x.to("float64")) as Tensor).dtype, "float64");
});
