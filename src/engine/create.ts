// Tensor creation and combination.
import type { Handle } from "./native.js";
import {
  type AnyTypedArray,
  type DType,
  type Device,
  type Operand,
  type Scalar,
  type Tensor,
  op,
  opList,
} from "./tensor.js";

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
}

const DEFAULT_TYPED: [new (...a: never[]) => AnyTypedArray, DType][] = [
  [Float32Array, "float32"],
  [Float64Array, "float64"],
  [BigInt64Array, "int64"],
  [Int32Array, "int32"],
  [Int16Array, "int16"],
  [Int8Array, "int8"],
  [Uint8Array, "uint8"],
];

/**
 * Makes a tensor from a typed array (copied) or nested-free number array and a shape.
 * Without dtype, a typed array keeps its element type and a number array becomes float32.
 */
export function tensor(
  data: AnyTypedArray | readonly number[],
  shape?: readonly number[],
  options: CreateOptions = {},
): Tensor {
  const inferred = ArrayBuffer.isView(data) ? DEFAULT_TYPED.find(([ctor]) => data instanceof ctor)?.[1] : undefined;
  const dtype = options.dtype ?? inferred ?? "float32";
  const fullShape = shape ?? [data.length];
  const buffer =
    ArrayBuffer.isView(data) && (inferred === dtype || dtype === "float16" || dtype === "bfloat16" || dtype === "bool")
      ? data
      : toTypedArray(data, dtype);
  return op("fromArray", buffer, fullShape, dtype, options.device ?? null);
}

function toTypedArray(data: AnyTypedArray | readonly number[], dtype: DType): AnyTypedArray {
  const values = Array.from(data as ArrayLike<number | bigint>, Number);
  switch (dtype) {
    case "float32":
      return Float32Array.from(values);
    case "float64":
      return Float64Array.from(values);
    case "int64":
      return BigInt64Array.from(values, (v) => BigInt(Math.trunc(v)));
    case "int32":
      return Int32Array.from(values);
    case "int16":
      return Int16Array.from(values);
    case "int8":
      return Int8Array.from(values);
    case "uint8":
      return Uint8Array.from(values);
    case "bool":
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
    default: {
      // float16/bfloat16 from numbers: go through float32 on the engine.
      throw new Error(`make ${dtype} tensors from float32 data with .to("${dtype}")`);
    }
  }
}

export function scalar(value: Scalar, options: CreateOptions = {}): Tensor {
  return op("scalarTensor", value, options.dtype ?? null, options.device ?? null);
}
export function zeros(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return op("zeros", shape, options.dtype ?? null, options.device ?? null);
}
export function ones(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return op("ones", shape, options.dtype ?? null, options.device ?? null);
}
export function full(shape: readonly number[], value: Scalar, options: CreateOptions = {}): Tensor {
  return op("full", shape, value, options.dtype ?? null, options.device ?? null);
}
export function empty(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return op("empty", shape, options.dtype ?? null, options.device ?? null);
}
export function zerosLike(t: Tensor, options: CreateOptions = {}): Tensor {
  return zeros(t.shape, { dtype: options.dtype ?? t.dtype, device: options.device ?? t.device });
}
export function onesLike(t: Tensor, options: CreateOptions = {}): Tensor {
  return ones(t.shape, { dtype: options.dtype ?? t.dtype, device: options.device ?? t.device });
}
export function arange(start: number, end: number, step = 1, options: CreateOptions = {}): Tensor {
  const dtype = options.dtype ?? ([start, end, step].every(Number.isInteger) ? "int64" : "float32");
  return op("arange", start, end, step, dtype, options.device ?? null);
}
export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  return op("linspace", start, end, steps, options.dtype ?? null, options.device ?? null);
}
export function eye(n: number, options: CreateOptions = {}): Tensor {
  return op("eye", n, options.dtype ?? null, options.device ?? null);
}

// ---- random (seeded by manualSeed) ----

export function rand(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return op("rand", shape, options.dtype ?? null, options.device ?? null);
}
export function randn(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return op("randn", shape, options.dtype ?? null, options.device ?? null);
}
/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: readonly number[], options: CreateOptions = {}): Tensor {
  return op("randint", low, high, shape, options.dtype ?? "int64", options.device ?? null);
}
export function randperm(n: number, options: CreateOptions = {}): Tensor {
  return op("randperm", n, options.dtype ?? "int64", options.device ?? null);
}
export function bernoulli(probabilities: Tensor): Tensor {
  return op("bernoulli", probabilities.handle);
}
/** Samples indices from each row of a (non-negative) weight matrix. */
export function multinomial(weights: Tensor, samples: number, replacement = false): Tensor {
  return op("multinomial", weights.handle, samples, replacement);
}

// ---- combination ----

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return op("cat", tensors.map((t) => t.handle) as Handle[], dim);
}
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return op("stack", tensors.map((t) => t.handle) as Handle[], dim);
}
/** Elementwise choice: a where condition holds, else b (numbers become scalars of the other's dtype). */
export function where(condition: Tensor, a: Operand, b: Operand): Tensor {
  const ref = typeof a === "number" ? (typeof b === "number" ? null : b) : a;
  const made: Tensor[] = [];
  const asTensor = (v: Operand): Tensor => {
    if (typeof v !== "number") return v;
    const s = scalar(v, { dtype: ref?.dtype ?? "float32", device: ref?.device ?? condition.device });
    made.push(s);
    return s;
  };
  const out = op("where", condition.handle, asTensor(a).handle, asTensor(b).handle);
  for (const t of made) t.dispose();
  return out;
}
export function einsum(equation: string, tensors: readonly Tensor[]): Tensor {
  return op("einsum", equation, tensors.map((t) => t.handle) as Handle[]);
}
export function eigvalsh(matrix: Tensor): Tensor {
  return op("eigvalsh", matrix.handle);
}
export function unbind(t: Tensor, dim = 0): Tensor[] {
  return opList("unbind", t.handle, dim);
}
