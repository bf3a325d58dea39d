// The tensors of a run folder: checkpoint weights and optimiser state in, and out (the file names
// and the commit order are record.ts's).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { type Optimizer, loadSafetensors, saveSafetensors } from "../engine/index.js";
import type { Module } from "../engine/nn/module.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import type { CheckpointState, TrainingRun } from "./record.js";

/** Loads the run's weights into `net` (disposing the loaded tensors). */
export function loadWeights(run: TrainingRun, net: Module, which: "latest" | "best"): void {
  const weights = loadSafetensors(run.weightsFile(which)).tensors;
  net.loadStateDict(weights);
  for (const t of weights.values()) t.dispose();
}

/** Restores the last checkpoint's weights and optimiser state; returns the rest to restore. */
export function resumeWeights(run: TrainingRun, net: Module, optimizer: Optimizer): CheckpointState {
  const latest = run.latest();
  loadWeights(run, net, "latest");
  optimizer.loadStateBytes(readFileSync(run.epochFile(latest.epoch, "optim")));
  return latest;
}

/** Writes epoch_N.{safetensors,optim}, then points latest.json at them (the commit), then prunes. */
export function saveCheckpoint(
  run: TrainingRun,
  net: Module,
  optimizer: Optimizer,
  state: CheckpointState,
  isBest: boolean,
): void {
  const metadata = { epoch: String(state.epoch), classes: JSON.stringify(state.classes) };
  saveSafetensors(run.epochFile(state.epoch, "safetensors"), net.stateDict(), metadata);
  writeFileAtomicSync(run.epochFile(state.epoch, "optim"), optimizer.stateBytes());
  run.commitEpoch(state);
  if (isBest) saveSafetensors(run.bestFile, net.stateDict(), metadata);
  run.pruneEpochs(state.epoch);
}

/**
 * SHA-256 of every parameter and buffer (name, dtype, shape, bytes), in the module's order: two runs
 * trained the same model bit for bit exactly when their digests agree (log.jsonl keeps one per epoch).
 */
export function weightsDigest(net: Module): string {
  const hash = createHash("sha256");
  for (const [name, t] of net.stateDict()) {
    hash.update(`${name}:${t.dtype}:${t.shape.join("x")};`);
    const host = t.device === "cpu" ? t : t.to("cpu");
    const values = host.data();
    hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    if (host !== t) host.dispose();
  }
  return hash.digest("hex").slice(0, 16);
}
