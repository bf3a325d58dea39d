// A training-run folder, read and written only here:
//   training.json        the record (configuration, classes, patch, features, where it was preprocessed)
//   plans.json           the run's own copy of the plans, so checkpoints stay usable if the
//                        preprocessed folder moves (runs written before the copy fall back to it)
//   log.jsonl            one line per finished epoch (an append killed halfway leaves a torn last
//                        line, which is dropped on reading)
//   iterations.jsonl     one line per finished epoch: every step's loss and gradient norm (same rules)
//   postprocessing.json  the postprocessing rule determined on cross-validation, applied by predict
//   checkpoints/         epoch_N.safetensors + epoch_N.optim, latest.json (the commit that points at
//                        them), best.safetensors (best validation EMA)
// Every file is written atomically (temporary file, fsync, rename). This module does not load the
// engine (listings such as the web catalog read runs without libtorch); weights.ts moves the tensors.
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import type { InitScheme } from "../models/init.js";
import type { ArchitectureName } from "../models/registry.js";
import type { Plans } from "../plan/plan.js";
import { removeStaleTemps, writeFileAtomicSync } from "../util/atomic.js";
import type { EpochLog, IterationLog, PostprocessingRule, TrainConfig } from "./config.js";

export const RUN_RECORD = "training.json";
export const RUN_PLANS = "plans.json";
export const RUN_POSTPROCESSING = "postprocessing.json";
export const RUN_LOG = "log.jsonl";
export const RUN_ITERATIONS = "iterations.jsonl";
export const RUN_CHECKPOINTS = "checkpoints";
/** Where a run that started over after a stall keeps its abandoned start: log, steps and checkpoints. */
export const RUN_STALLED_START = "stalled-start";

/** training.json. */
export interface TrainingRecord {
  config: TrainConfig;
  /** Absent in runs written before architectures were selectable: "plain". */
  architecture?: ArchitectureName;
  /** Target class name → value (ignore / unknown_background included, they are no output channel). */
  classes: Record<string, number>;
  lesionClasses: Record<string, number>;
  /** Output channels. */
  numClasses: number;
  /** [z, y, x] patch (a 2D configuration's has depth 1). */
  patch: number[];
  batch: number;
  features: number[];
  /** The initialisation it started from (absent in runs written before it depended on the configuration: the config's `init`, else "he"). */
  init?: InitScheme;
  /** The lesion probability its heads started at (absent in runs written before it was set: 0, the drawn biases). */
  lesionPrior?: number;
  /** The preprocessed folder (absolute) the run trained on: its cache and splits. */
  plans: string;
  /**
   * Where it trained (absent in older runs): CPU runs are bit-identical only on the same CPU model with the
   * same thread count and libtorch, so two runs that differ here are compared over seeds, not digit by digit.
   */
  machine?: { cpu: string; threads: number; libtorch: string; device: string; worldSize: number };
}

/** checkpoints/latest.json: what resuming restores besides the weights and the optimiser. */
export interface CheckpointState {
  epoch: number;
  bestEma: number;
  ema: number;
  /** libtorch's generator state, base64. */
  rng: string;
  scaler: { scale: number; goodSteps: number };
  classes: Record<string, number>;
  config: TrainConfig;
}

/** postprocessing.json: the rule, and the cross-validation it was chosen on. */
export interface PostprocessingRecord {
  rule: PostprocessingRule;
  /** Where it was determined: the pooled held-out predictions, the references, and the case count. */
  determinedOn: { predictions: string; reference: string; cases: number };
  /** Pooled lesion F1 and mean voxel Dice without postprocessing and with the rule. */
  without: { f1: number; dice: number };
  with: { f1: number; dice: number };
}

export class RunFileError extends Error {}

/**
 * The lines of a log.jsonl as written: a last line without its newline that does not parse (an
 * append cut short by a kill) is dropped; a broken line elsewhere is an error naming the line.
 */
export function readLogLines(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n");
  const last = lines.pop() ?? ""; // "" when the file ends with a newline
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      JSON.parse(line);
    } catch {
      throw new RunFileError(`${file}: line ${i + 1} is not valid JSON (${line.slice(0, 60)})`);
    }
    out.push(line);
  });
  if (last.trim()) {
    try {
      JSON.parse(last);
      out.push(last);
    } catch {
      // torn by a kill in the middle of an append: dropped
    }
  }
  return out;
}

const json = (value: unknown, indent?: number) => `${JSON.stringify(value, null, indent)}\n`;

/** One training-run folder. Creating the object touches nothing on disk. */
export class TrainingRun {
  constructor(readonly dir: string) {}

  get recordFile(): string {
    return path.join(this.dir, RUN_RECORD);
  }
  get plansFile(): string {
    return path.join(this.dir, RUN_PLANS);
  }
  get logFile(): string {
    return path.join(this.dir, RUN_LOG);
  }
  get iterationsFile(): string {
    return path.join(this.dir, RUN_ITERATIONS);
  }
  get checkpointDir(): string {
    return path.join(this.dir, RUN_CHECKPOINTS);
  }
  get postprocessingFile(): string {
    return path.join(this.dir, RUN_POSTPROCESSING);
  }
  get latestFile(): string {
    return path.join(this.checkpointDir, "latest.json");
  }
  get bestFile(): string {
    return path.join(this.checkpointDir, "best.safetensors");
  }

  /** Whether the folder holds a record (a run that has just started may not yet). */
  isRun(): boolean {
    return existsSync(this.recordFile);
  }

  /** The record; an error naming the folder when it is not a training run. */
  record(): TrainingRecord {
    if (!this.isRun()) throw new RunFileError(`${this.dir}: not a training run (no ${RUN_RECORD})`);
    return JSON.parse(readFileSync(this.recordFile, "utf8")) as TrainingRecord;
  }

  /** The record, or null when it is missing or unreadable (for listings that must not fail). */
  recordOrNull(): Partial<TrainingRecord> | null {
    try {
      return JSON.parse(readFileSync(this.recordFile, "utf8")) as Partial<TrainingRecord>;
    } catch {
      return null;
    }
  }

  writeRecord(record: TrainingRecord): void {
    writeFileAtomicSync(this.recordFile, json(record, 2));
  }

  writePlans(plans: Plans): void {
    writeFileAtomicSync(this.plansFile, json(plans, 2));
  }

  /** The plans file the run uses: its own copy, or (runs written before the copy) the preprocessed folder's. */
  plansSource(record: Pick<TrainingRecord, "plans"> = this.record()): string {
    return existsSync(this.plansFile) ? this.plansFile : path.join(record.plans, RUN_PLANS);
  }

  plans(record: Pick<TrainingRecord, "plans"> = this.record()): Plans {
    const file = this.plansSource(record);
    if (!existsSync(file)) throw new RunFileError(`${file}: missing (the run's plans)`);
    return JSON.parse(readFileSync(file, "utf8")) as Plans;
  }

  // ---- log.jsonl ----

  /** The epochs logged so far (a torn last line dropped). */
  log(): EpochLog[] {
    return readLogLines(this.logFile).map((l) => JSON.parse(l) as EpochLog);
  }

  /** The per-step losses and gradient norms logged so far, an epoch a line (a torn last line dropped). */
  iterations(): IterationLog[] {
    return readLogLines(this.iterationsFile).map((l) => JSON.parse(l) as IterationLog);
  }

  /** Keeps only the epochs up to `epoch` (those a checkpoint covers), rewriting the files atomically. */
  keepLogUpTo(epoch: number): void {
    for (const file of [this.logFile, this.iterationsFile]) {
      if (!existsSync(file)) continue;
      const kept = readLogLines(file).filter((l) => (JSON.parse(l) as { epoch: number }).epoch <= epoch);
      writeFileAtomicSync(file, kept.map((l) => `${l}\n`).join(""));
    }
  }

  /**
   * Moves the log, the steps and the checkpoints into stalled-start/ (replacing an earlier one), so the
   * run can start over in this folder and the abandoned start stays readable.
   */
  setAsideStalledStart(): void {
    const aside = path.join(this.dir, RUN_STALLED_START);
    rmSync(aside, { recursive: true, force: true });
    mkdirSync(aside);
    for (const name of [RUN_LOG, RUN_ITERATIONS, RUN_CHECKPOINTS]) {
      const from = path.join(this.dir, name);
      if (existsSync(from)) renameSync(from, path.join(aside, name));
    }
  }

  /** The epochs of a start abandoned after a stall (empty when the run never started over). */
  stalledStartLog(): EpochLog[] {
    return readLogLines(path.join(this.dir, RUN_STALLED_START, RUN_LOG)).map((l) => JSON.parse(l) as EpochLog);
  }

  /** Every epoch since the run first started: a stalled start's epochs, then the log (it learnt that much later). */
  logSinceFirstStart(): EpochLog[] {
    return [...this.stalledStartLog(), ...this.log()];
  }

  clearLog(): void {
    rmSync(this.logFile, { force: true });
    rmSync(this.iterationsFile, { force: true });
  }

  appendLog(entry: EpochLog): void {
    appendFileSync(this.logFile, `${JSON.stringify(entry)}\n`);
  }

  /** Written before the epoch's log.jsonl line, so a logged epoch always has its steps. */
  appendIterations(entry: IterationLog): void {
    appendFileSync(this.iterationsFile, `${JSON.stringify(entry)}\n`);
  }

  // ---- postprocessing.json ----

  /** The recorded postprocessing, or null when none was determined for this run. */
  postprocessing(): PostprocessingRecord | null {
    if (!existsSync(this.postprocessingFile)) return null;
    return JSON.parse(readFileSync(this.postprocessingFile, "utf8")) as PostprocessingRecord;
  }

  writePostprocessing(record: PostprocessingRecord): void {
    writeFileAtomicSync(this.postprocessingFile, json(record, 2));
  }

  // ---- checkpoints ----

  /** Creates checkpoints/ and removes a killed run's half-written checkpoint files. */
  prepareCheckpoints(): void {
    mkdirSync(this.checkpointDir, { recursive: true });
    removeStaleTemps(this.checkpointDir);
  }

  hasCheckpoint(): boolean {
    return existsSync(this.latestFile);
  }

  /** checkpoints/latest.json (the last committed epoch). */
  latest(): CheckpointState {
    return JSON.parse(readFileSync(this.latestFile, "utf8")) as CheckpointState;
  }

  epochFile(epoch: number, ending: "safetensors" | "optim"): string {
    return path.join(this.checkpointDir, `epoch_${epoch}.${ending}`);
  }

  /** The weights: the last epoch's, or the best validation EMA's (the last epoch's when there is none). */
  weightsFile(which: "latest" | "best"): string {
    if (which === "best" && existsSync(this.bestFile)) return this.bestFile;
    return this.epochFile(this.latest().epoch, "safetensors");
  }

  /** Commits an epoch whose weight files are written: latest.json points at them. */
  commitEpoch(state: CheckpointState): void {
    writeFileAtomicSync(this.latestFile, json(state));
  }

  /** Removes every epoch_N file but the given epoch's. */
  pruneEpochs(keep: number): void {
    const dir = this.checkpointDir;
    for (const f of readdirSync(dir)) {
      const m = /^epoch_(\d+)\./.exec(f);
      if (m && Number(m[1]) !== keep) rmSync(path.join(dir, f), { force: true });
    }
  }
}
