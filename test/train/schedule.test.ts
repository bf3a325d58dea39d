// The trainer's learning rate per step: nnU-Net's poly decay per epoch, and the optional warm-up.
import assert from "node:assert/strict";
import { test } from "node:test";
import { backgroundSplitWeight, stepSchedule } from "../../src/train/setup.js";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-15, `${a} ≠ ${b}`);

test("without warm-up every step of an epoch has that epoch's poly rate", () => {
  const lr = stepSchedule(0.01, 20, 40, 0);
  close(lr(0, 0), 0.01);
  close(lr(0, 39), 0.01);
  close(lr(5, 0), 0.01 * (15 / 20) ** 0.9);
  close(lr(5, 39), 0.01 * (15 / 20) ** 0.9);
  close(lr(19, 39), 0.01 * (1 / 20) ** 0.9);
});

test("a one-epoch warm-up rises linearly over the first epoch's steps, then the poly schedule starts over", () => {
  const lr = stepSchedule(0.01, 20, 40, 1);
  close(lr(0, 0), 0.01 / 40);
  close(lr(0, 19), 0.01 * (20 / 40));
  close(lr(0, 39), 0.01);
  // Epoch 1 is the poly schedule's epoch 0; epoch 6 its epoch 5.
  close(lr(1, 0), 0.01);
  close(lr(6, 0), 0.01 * (15 / 20) ** 0.9);
  // A half-epoch warm-up: 20 steps, then poly epoch 0 until step 60.
  const half = stepSchedule(0.01, 20, 40, 0.5);
  close(half(0, 9), 0.01 * (10 / 20));
  close(half(1, 19), 0.01);
  close(half(1, 20), 0.01 * (19 / 20) ** 0.9);
});

test("the background warm-up: 0 for E epochs and until the lesion is found, then rising linearly to 1 over E more", () => {
  const cfg = { iterationsPerEpoch: 40, backgroundWarmupEpochs: 2 };
  const w = (epoch: number, it: number, foundAfter: number | null) => backgroundSplitWeight(cfg, epoch, it, foundAfter);
  // Found in the first epoch: the split waits for the E epochs anyway.
  close(w(0, 0, null), 0);
  close(w(1, 39, 1), 0);
  close(w(2, 0, 1), 0);
  close(w(2, 20, 1), 0.25);
  close(w(3, 20, 1), 0.75);
  close(w(4, 0, 1), 1);
  close(w(7, 3, 1), 1);
  // Not found yet: the merged background however long it takes; found after 5 epochs: the rise starts there.
  close(w(9, 0, null), 0);
  close(w(5, 0, 5), 0);
  close(w(6, 0, 5), 0.5);
  close(w(7, 0, 5), 1);
  // Without a warm-up the split is there from the first step, found or not.
  close(backgroundSplitWeight({ iterationsPerEpoch: 40 }, 0, 0, null), 1);
  const half = { iterationsPerEpoch: 40, backgroundWarmupEpochs: 0.5 };
  close(backgroundSplitWeight(half, 0, 19, 1), 0);
  close(backgroundSplitWeight(half, 1, 0, 1), 0);
  close(backgroundSplitWeight(half, 1, 10, 1), 0.5);
  close(backgroundSplitWeight(half, 1, 20, 1), 1);
});
