// Process-wide engine settings: threads, seeds, devices, gradient mode, autocast.
import os from "node:os";
import { type Handle, buildConfig, native } from "./native.js";
import { type DType, type Device, Tensor } from "./tensor.js";

export interface EngineInfo {
  version: string;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  cudnnAvailable: boolean;
  mkldnnAvailable: boolean;
  threads: number;
  interopThreads: number;
  cxx11Abi: boolean;
  parallelInfo: string;
  /**
   * OpenMP's dynamic thread adjustment on the calling thread (absent without OpenMP). setThreads turns it
   * off: with it on (OMP_DYNAMIC=true), a loaded machine runs reductions on fewer threads, other floats.
   */
  ompDynamic?: boolean;
}

export function engineInfo(): EngineInfo & { libtorch: ReturnType<typeof buildConfig> } {
  return { ...(native.info() as EngineInfo), libtorch: buildConfig() };
}

/**
 * Sets libtorch's intra-op thread count (default: BACKSPLIT_THREADS or the number of cores) and turns
 * OpenMP's dynamic adjustment off on this thread (#20).
 */
export function setThreads(threads?: number): number {
  const n = threads ?? (Number(process.env.BACKSPLIT_THREADS) || os.availableParallelism());
  native.setNumThreads(n);
  return n;
}

/** Seeds libtorch's CPU and CUDA generators. */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}

/** The CPU random generator's state (a uint8 tensor), for checkpoints. */
export function getRngState(): Tensor {
  return new Tensor(native.getRngState() as Handle);
}

export function setRngState(state: Tensor): void {
  native.setRngState(state.handle);
}

export function cudaAvailable(): boolean {
  return (native.info() as EngineInfo).cudaAvailable;
}

/** Resolves "auto" to cuda when available, else cpu; checks that a cuda device exists. */
export function resolveDevice(device: Device | "auto" = "auto"): Device {
  const info = native.info() as EngineInfo;
  if (device === "auto") return info.cudaAvailable ? "cuda" : "cpu";
  if (device.startsWith("cuda")) {
    if (!info.cudaAvailable) {
      throw new Error(
        `device ${device} requested but libtorch ${info.version} sees no CUDA device (CPU build or no GPU)`,
      );
    }
    const index = Number(device.split(":")[1] ?? 0);
    if (index >= info.cudaDeviceCount)
      throw new Error(`device ${device} requested but only ${info.cudaDeviceCount} CUDA device(s) exist`);
  } else if (device !== "cpu") {
    throw new Error(`unknown device '${device}' (cpu, cuda, cuda:N, auto)`);
  }
  return device;
}

export function setCudnnBenchmark(enabled: boolean): void {
  native.setCudnnBenchmark(enabled);
}

export function setDeterministic(enabled: boolean): void {
  native.setDeterministic(enabled);
}

/** Waits for queued CUDA work (for timing). No-op without CUDA. */
export function synchronize(device: Device = "cuda"): void {
  if (!device.startsWith("cuda") || !cudaAvailable()) return;
  native.cudaSynchronize(Number(device.split(":")[1] ?? -1));
}

/** Runs fn with autograd recording disabled (like torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with autograd recording enabled (inside a noGrad region). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = native.gradEnabled() as boolean;
  native.setGradEnabled(enabled);
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error("noGrad()/enableGrad() need a synchronous function");
    return result;
  } finally {
    native.setGradEnabled(previous);
  }
}

/**
 * Runs fn under CUDA autocast (mixed precision) like torch.autocast("cuda"): eligible ops run in
 * dtype (float16 or bfloat16), precision-sensitive ones stay in float32. Affects CUDA ops only.
 */
export function autocast<T>(fn: () => T, dtype: DType = "float16", enabled = true): T {
  if (!enabled) return fn();
  native.setAutocast(true, dtype);
  try {
    return fn();
  } finally {
    native.setAutocast(false, dtype);
  }
}
