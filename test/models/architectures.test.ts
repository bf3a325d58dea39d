// Every architecture runs forward and backward in 2D and 3D; binary and BackSplit differ only in the head.
import assert from "node:assert/strict";
import { test } from "node:test";
import { F, Optimizer, type Tensor, manualSeed, randint, randn, setThreads, tidy } from "../../src/engine/index.js";
import { ARCHITECTURES, buildModel } from "../../src/models/registry.js";

for (const name of ARCHITECTURES) {
  for (const dims of [2, 3] as const) {
    test(`${name} ${dims}D: output shapes, gradients for every parameter, one SGD step lowers the loss`, () => {
      setThreads(2);
      manualSeed(1);
      const spatial = dims === 3 ? [16, 16, 8] : [32, 24];
      const strides = dims === 3 ? [1, 2, [2, 2, 1]] : [1, 2, 2];
      const build = (numClasses: number) =>
        buildModel(name, {
          dims,
          inChannels: 2,
          numClasses,
          features: [8, 16, 32],
          strides,
          kernels: [3, 3, 3],
          deepSupervision: true,
        });
      const net = build(5);
      const binary = build(2);
      const x = randn([2, 2, ...spatial]);
      const y = randint(0, 5, [2, ...spatial]);
      const outputs = () => {
        const out = net.forward(x);
        return Array.isArray(out) ? out : [out];
      };
      const first = tidy(() => outputs().map((o) => o.shape));
      assert.deepEqual(first[0], [2, 5, ...spatial], "full resolution first");
      // Same architecture, only the head's width differs.
      const differing = [...net.namedParameters()]
        .filter(([n, p]) => p.numel !== binary.stateDict().get(n)?.numel)
        .map(([n]) => n);
      assert.ok(
        differing.length > 0 && differing.every((n) => /head|final/.test(n)),
        `parameters that differ: ${differing}`,
      );
      const opt = Optimizer.sgd(net.parameters(), { lr: 0.01, momentum: 0.9 });
      const losses: number[] = [];
      for (let i = 0; i < 3; i++) {
        losses.push(
          tidy(() => {
            opt.zeroGrad();
            const loss = F.crossEntropy(outputs()[0] as Tensor, y);
            loss.backward();
            if (i === 0)
              for (const [n, p] of net.namedParameters())
                if (!/head[1-9]/.test(n)) assert.ok(p.grad !== null, `no gradient for ${n}`);
            opt.step();
            return loss.item();
          }),
        );
      }
      assert.ok(losses[2] < losses[0], `losses ${losses}`);
    });
  }
}
