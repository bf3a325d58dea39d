// Data-parallel training on c10d: the launcher's variables (torchrun, SLURM, `train --nproc`), the
// process group, weights broadcast from rank 0, gradients summed in buckets, loss statistics made global.
// libtorch has no C++ DistributedDataParallel, so this is the part of it a U-Net trainer needs.
import { ProcessGroup, type Tensor, tidy, zeros } from "../engine/index.js";
import { BUCKET_BYTES, type LaunchEnv, buckets, distributedTimeoutMs } from "./launch-env.js";

export {
  BUCKET_BYTES,
  type LaunchEnv,
  buckets,
  distributedTimeoutMs,
  firstSlurmHost,
  isMainProcess,
  launchEnv,
  localBatch,
  rankSeed,
} from "./launch-env.js";

/** The group a launch environment describes: Gloo for CPU training, NCCL for CUDA. */
export function joinGroup(launch: LaunchEnv, device: string, timeoutMs = distributedTimeoutMs()): ProcessGroup {
  return ProcessGroup.init({
    backend: device.startsWith("cuda") ? "nccl" : "gloo",
    host: launch.masterAddr,
    port: launch.masterPort,
    rank: launch.rank,
    worldSize: launch.worldSize,
    timeoutMs,
    serveStore: !launch.agentStore && launch.rank === 0,
    prefix: launch.agentStore ? `/worker/attempt_${launch.attempt}/backsplit/` : "backsplit/",
  });
}

/**
 * One process's side of data-parallel training. The loss is normalised by global counts (see
 * LossOptions.globalSum), so each rank's gradient is its share of the global one and the shares are
 * summed: the model equals one process's with the whole batch, to float tolerance.
 */
export class DataParallel {
  constructor(
    readonly group: ProcessGroup,
    readonly params: Tensor[],
    readonly bucketBytes = BUCKET_BYTES,
  ) {}

  get rank(): number {
    return this.group.rank;
  }

  get worldSize(): number {
    return this.group.worldSize;
  }

  get isMain(): boolean {
    return this.group.rank === 0;
  }

  /** Rank 0's parameters (and buffers) everywhere: at the start and after a resume. */
  broadcastFromMain(tensors: Tensor[] = this.params): void {
    const work = buckets(tensors, this.bucketBytes).map((b) => this.group.broadcast(b, 0));
    for (const w of work) w.wait();
  }

  /**
   * Sums every parameter's gradient over ranks, bucket by bucket (all buckets in flight at once).
   * A parameter without a gradient on this rank contributes zeros, so every rank sends the same layout.
   */
  reduceGradients(): void {
    const grads = this.params.map((p) => {
      let g = p.grad;
      if (!g) {
        tidy(() => p.add(0).backward(zeros(p.shape, { device: p.device })));
        g = p.grad!;
      }
      return g;
    });
    const work = buckets(grads, this.bucketBytes).map((b) => this.group.allreduce(b, "sum"));
    for (const w of work) w.wait();
    for (const g of grads) g.dispose();
  }

  /** The global sum of a local statistic, as a constant (no gradient): a loss's denominator. */
  globalSum = (local: Tensor): Tensor => {
    const total = local.detach().clone();
    this.group.allreduce(total, "sum").wait();
    return total;
  };

  barrier(): void {
    this.group.barrier();
  }

  destroy(): void {
    this.group.destroy();
  }
}
