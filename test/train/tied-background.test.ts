// BackSplit's background warm-up starts from tied background channels: every background channel of every
// head a copy of the first. Under the merged loss (split weight 0) identical channels get identical
// gradients, so they stay tied and the body gets the gradient a binary head with that channel would give
// it; the split (weight > 0) then breaks the tie. Checked here on real training steps.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Optimizer, type Tensor, manualSeed, randint, randn, setThreads, tidy } from "../../src/engine/index.js";
import type { Conv } from "../../src/engine/nn/layers.js";
import type { Module } from "../../src/engine/nn/module.js";
import { setLesionPrior, tieBackgroundHeads } from "../../src/models/init.js";
import { buildModel } from "../../src/models/registry.js";
import { segmentationLoss } from "../../src/train/loss.js";

const K = 4;
const LESION = 1;
const BACKGROUND = [0, 2, 3];

function network(numClasses = K): Module {
  manualSeed(11);
  return buildModel("plain", {
    dims: 2,
    inChannels: 2,
    numClasses,
    features: [8, 16, 32],
    strides: [1, 2, 2],
    kernels: [3, 3, 3],
    deepSupervision: true,
  });
}

const heads = (net: Module) => (net as unknown as { heads: Conv[] }).heads;
const channel = (p: Tensor, c: number) => tidy(() => p.narrow(0, c, 1).toArray().flat(4) as number[]);
const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

/** The largest difference between any background channel and the first, over every head's weight and bias. */
function untied(net: Module): number {
  let worst = 0;
  for (const head of heads(net))
    for (const p of [head.weight, head.bias as Tensor])
      for (const c of BACKGROUND.slice(1)) worst = Math.max(worst, maxDiff(channel(p, c), channel(p, BACKGROUND[0])));
  return worst;
}

test("tying copies the first background channel into the others and leaves the lesion channel as drawn", () => {
  setThreads(2);
  const net = network();
  const lesionBefore = heads(net).map((h) => channel(h.weight, LESION));
  assert.ok(untied(net) > 0.01, "drawn channels differ");
  setLesionPrior(net, K, [LESION], 0.01);
  tieBackgroundHeads(net, K, [LESION]);
  assert.equal(heads(net).length, 2, "both deep-supervision heads");
  assert.equal(untied(net), 0);
  heads(net).forEach((h, i) => assert.deepEqual(channel(h.weight, LESION), lesionBefore[i]));
  // The lesion prior survives: softmax of the biases still gives the lesion 1 %.
  for (const h of heads(net)) {
    const b = h.bias?.toArray() as number[];
    const e = b.map(Math.exp);
    assert.ok(Math.abs(e[LESION] / e.reduce((s, v) => s + v, 0) - 0.01) < 1e-6);
  }
  // A binary head has one background channel: nothing to tie.
  const binary = network(2);
  const before = channel(heads(binary)[0].weight, 0);
  tieBackgroundHeads(binary, 2, [1]);
  assert.deepEqual(channel(heads(binary)[0].weight, 0), before);
});

test("tied channels stay tied while the background is merged, and the split unties them", () => {
  setThreads(2);
  const net = network();
  tieBackgroundHeads(net, K, [LESION]);
  const x = randn([2, 2, 32, 24]);
  const y = randint(0, K, [2, 32, 24]);
  const opt = Optimizer.sgd(net.parameters(), { lr: 0.05, momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
  const step = (backgroundSplitWeight: number) =>
    tidy(() => {
      opt.zeroGrad();
      const outs = net.forward(x) as Tensor[];
      const loss = segmentationLoss(outs[0], y, {
        lesionClasses: [LESION],
        backgroundClasses: BACKGROUND,
        diceOver: "all",
        batchDice: true,
        backgroundSplitWeight,
      });
      loss.backward();
      opt.step();
    });
  for (let i = 0; i < 4; i++) step(0);
  assert.ok(untied(net) < 1e-6, `merged phase: channels drifted by ${untied(net)}`);
  for (let i = 0; i < 2; i++) step(0.5);
  assert.ok(untied(net) > 1e-3, `split phase: channels still tied (${untied(net)})`);
});
