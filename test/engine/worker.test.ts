// Long engine work runs on a worker thread while the main event loop keeps ticking.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runInWorker } from "../../src/engine/index.js";
import type { SmokeInput, SmokeResult } from "../../src/jobs/smoke.js";

test("a training job in a worker reports progress and leaves the event loop free", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const reports: unknown[] = [];
  const started = performance.now();
  const result = await runInWorker<SmokeInput, SmokeResult>({
    module: new URL("../../src/jobs/smoke.js", import.meta.url).href,
    exportName: "smokeTrain",
    input: { steps: 6, size: 24, device: "cpu", threads: 1, seed: 1 },
    onReport: (m) => reports.push(m),
  });
  clearInterval(timer);
  const elapsedMs = performance.now() - started;
  assert.equal(result.losses.length, 6);
  assert.equal(reports.length, 6);
  assert.deepEqual(reports.at(-1), { step: 6, loss: result.losses[5] });
  // A blocked loop would tick ~0 times; allow for a slow, shared machine.
  assert.ok(ticks > elapsedMs / 10 / 4, `${ticks} ticks in ${elapsedMs.toFixed(0)} ms`);
});

test("errors inside the worker reject with their message", async () => {
  await assert.rejects(
    runInWorker({ module: new URL("../../src/jobs/smoke.js", import.meta.url).href, exportName: "nope", input: null }),
    /has no exported function nope/,
  );
  await assert.rejects(
    runInWorker({
      module: new URL("../../src/jobs/smoke.js", import.meta.url).href,
      exportName: "smokeTrain",
      input: { steps: 1, size: 8, device: "cuda:3", seed: 0 },
    }),
    /cuda:3 requested/,
  );
});
