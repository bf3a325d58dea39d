// Process groups over libtorch's c10d: a TCPStore for rendezvous, Gloo for CPU tensors, NCCL for CUDA.
// The same engine as torch.distributed; this file is only its typed face (native/dist.cc does the work).
import { type Handle, native } from "./native.js";
import { type Tensor, opList } from "./tensor.js";

export type DistBackend = "gloo" | "nccl";
export type ReduceOp = "sum" | "avg" | "max" | "min";

export interface ProcessGroupOptions {
  backend: DistBackend;
  /** The store's host (MASTER_ADDR). */
  host: string;
  /** The store's port (MASTER_PORT). */
  port: number;
  rank: number;
  worldSize: number;
  /** Every rendezvous and collective fails after this long (no hang when a rank dies). */
  timeoutMs: number;
  /** Whether this process hosts the TCPStore (rank 0, unless a launcher's agent already hosts it). */
  serveStore: boolean;
  /** Key prefix in the store, so that several groups or a launcher's own keys never collide. */
  prefix?: string;
}

/** Which backends this engine was built with (the libtorch and its headers decide; see build-native). */
export function distributedBackends(): { gloo: boolean; nccl: boolean } {
  return native.distBackends() as { gloo: boolean; nccl: boolean };
}

/** A collective in flight; wait() blocks until it has finished (and copies packed results back). */
export class Work {
  constructor(readonly handle: unknown) {}
  wait(): void {
    native.distWait(this.handle as Handle);
  }
}

export class ProcessGroup {
  #handle: Handle | null;

  private constructor(
    handle: Handle,
    readonly backend: DistBackend,
    readonly rank: number,
    readonly worldSize: number,
  ) {
    this.#handle = handle;
  }

  /** Joins the group: blocks until every rank has connected, or throws after the timeout. */
  static init(options: ProcessGroupOptions): ProcessGroup {
    const available = distributedBackends();
    if (!available[options.backend]) {
      throw new Error(
        `this engine was built without ${options.backend === "nccl" ? "NCCL" : "Gloo"} (\`npm run build:native\` prints why)`,
      );
    }
    if (!Number.isInteger(options.rank) || options.rank < 0 || options.rank >= options.worldSize) {
      throw new Error(`rank ${options.rank} is outside 0..${options.worldSize - 1}`);
    }
    const handle = native.distInit({
      backend: options.backend,
      host: options.host,
      port: options.port,
      rank: options.rank,
      worldSize: options.worldSize,
      timeoutMs: options.timeoutMs,
      serveStore: options.serveStore,
      prefix: options.prefix ?? "backsplit/",
    } as unknown as Record<string, number | boolean>) as Handle;
    return new ProcessGroup(handle, options.backend, options.rank, options.worldSize);
  }

  private get handle(): Handle {
    if (!this.#handle) throw new Error("the process group was destroyed");
    return this.#handle;
  }

  /**
   * Reduces the tensors in place across ranks and returns at once; call wait() before reading them.
   * Several tensors travel as one packed bucket (they must share dtype and device).
   */
  allreduce(tensors: Tensor | Tensor[], op: ReduceOp = "sum"): Work {
    const list = Array.isArray(tensors) ? tensors : [tensors];
    return new Work(
      native.distAllreduce(
        this.handle,
        list.map((t) => t.handle),
        op,
      ),
    );
  }

  /** Copies root's tensors into every other rank's (in place, packed like allreduce). */
  broadcast(tensors: Tensor | Tensor[], root = 0): Work {
    const list = Array.isArray(tensors) ? tensors : [tensors];
    return new Work(
      native.distBroadcast(
        this.handle,
        list.map((t) => t.handle),
        root,
      ),
    );
  }

  /** Every rank's copy of a (small) tensor, in rank order. */
  allgather(tensor: Tensor): Tensor[] {
    return opList("distAllgather", this.handle, tensor.handle);
  }

  barrier(): void {
    native.distBarrier(this.handle);
  }

  /** A string in the group's store (small coordination data, e.g. a run folder chosen by rank 0). */
  storeSet(key: string, value: string): void {
    native.distStoreSet(this.handle, key, value);
  }

  /** Blocks until the key exists (or the timeout). */
  storeGet(key: string): string {
    return native.distStoreGet(this.handle, key) as string;
  }

  destroy(): void {
    if (this.#handle) native.distDestroy(this.#handle);
    this.#handle = null;
  }
}
