// The launcher's variables (torchrun, SLURM, `train --nproc`) and the arithmetic of sharing a batch out,
// without loading libtorch (experiment and the CLI read them before any training starts).

export interface LaunchEnv {
  rank: number;
  localRank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  /** torchrun's agent already hosts the TCPStore at MASTER_ADDR:MASTER_PORT: every rank is a client. */
  agentStore: boolean;
  /** torchrun's restart count: a restarted attempt gets fresh store keys. */
  attempt: number;
  launcher: "torchrun" | "slurm" | "env";
}

/** The default all-reduce bucket (PyTorch DDP's bucket_cap_mb is 25). */
export const BUCKET_BYTES = 25 * 1024 * 1024;

function integer(env: NodeJS.ProcessEnv, name: string): number | null {
  const raw = env[name];
  if (raw === undefined || raw === "") return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${raw} is not a non-negative integer`);
  return n;
}

/** The first host of a SLURM node list ("gpu[07-09,12],cpu1" → "gpu07"). */
export function firstSlurmHost(nodeList: string): string {
  const match = /^([^,[]+)(?:\[([^\]]+)\])?/.exec(nodeList.trim());
  if (!match) throw new Error(`cannot read the SLURM node list '${nodeList}'`);
  const [, stem, range] = match;
  if (!range) return stem;
  return stem + range.split(",")[0].split("-")[0];
}

/**
 * The distributed set-up the launcher described, or null for a single process. torchrun's RANK /
 * WORLD_SIZE / LOCAL_RANK come first; SLURM's SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID are the
 * fallback (MASTER_ADDR defaults to the job's first node, MASTER_PORT to 29500 as in PyTorch).
 */
export function launchEnv(env: NodeJS.ProcessEnv = process.env): LaunchEnv | null {
  let worldSize = integer(env, "WORLD_SIZE");
  let rank = integer(env, "RANK");
  let localRank = integer(env, "LOCAL_RANK");
  let launcher: LaunchEnv["launcher"] = env.TORCHELASTIC_RUN_ID ? "torchrun" : "env";
  if (worldSize === null && integer(env, "SLURM_NTASKS") !== null) {
    worldSize = integer(env, "SLURM_NTASKS");
    rank = integer(env, "SLURM_PROCID");
    localRank = integer(env, "SLURM_LOCALID");
    launcher = "slurm";
  }
  if (worldSize === null || worldSize <= 1) return null;
  if (rank === null) throw new Error(`WORLD_SIZE=${worldSize} but RANK is not set`);
  if (rank >= worldSize) throw new Error(`RANK=${rank} is not below WORLD_SIZE=${worldSize}`);
  const masterAddr =
    env.MASTER_ADDR ?? (launcher === "slurm" && env.SLURM_JOB_NODELIST ? firstSlurmHost(env.SLURM_JOB_NODELIST) : null);
  if (!masterAddr) throw new Error("MASTER_ADDR is not set (the host of rank 0)");
  const masterPort = integer(env, "MASTER_PORT") ?? 29500;
  if (masterPort < 1 || masterPort > 65535) throw new Error(`MASTER_PORT=${masterPort} is not a port`);
  return {
    rank,
    localRank: localRank ?? 0,
    worldSize,
    masterAddr,
    masterPort,
    agentStore: env.TORCHELASTIC_USE_AGENT_STORE === "True",
    attempt: integer(env, "TORCHELASTIC_RESTART_COUNT") ?? 0,
    launcher,
  };
}

/** Whether this process is rank 0 of its launcher, or not launched as a rank at all. */
export function isMainProcess(env: NodeJS.ProcessEnv = process.env): boolean {
  return (launchEnv(env)?.rank ?? 0) === 0;
}

/** Seconds a rank waits for the others (rendezvous, collectives, rank 0's checkpoint) before failing. */
export function distributedTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const seconds = Number(env.BACKSPLIT_DIST_TIMEOUT ?? 1800);
  if (!(seconds > 0)) throw new Error(`BACKSPLIT_DIST_TIMEOUT=${env.BACKSPLIT_DIST_TIMEOUT} is not a positive number`);
  return Math.round(seconds * 1000);
}

/** Splits a global batch over ranks: nnU-Net requires it divisible, and so do we (no silent change). */
export function localBatch(globalBatch: number, worldSize: number): number {
  if (globalBatch % worldSize !== 0 || globalBatch < worldSize) {
    throw new Error(`the batch (${globalBatch}) must be a multiple of the number of processes (${worldSize})`);
  }
  return globalBatch / worldSize;
}

/** A rank's sampling seed: distinct streams per rank, and rank 0's equals the single-process seed. */
export function rankSeed(seed: number, rank: number): number {
  return rank === 0 ? seed : (seed + 7919 * rank) % 2 ** 31;
}

/** Groups tensors into buckets of about `bytes` (4-byte elements), in order, never splitting one. */
export function buckets<T extends { numel: number }>(tensors: T[], bytes = BUCKET_BYTES): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const t of tensors) {
    if (current.length > 0 && size + t.numel * 4 > bytes) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(t);
    size += t.numel * 4;
  }
  if (current.length > 0) out.push(current);
  return out;
}
