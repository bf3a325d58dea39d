// The Tensor type: a thin TypeScript object over a libtorch tensor handle.
import { type Handle, type NativeArg, native } from "./native.js";
import { track } from "./scope.js";

export type DType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";
/** "cpu", "cuda" or "cuda:N". */
export type Device = string;
export type Scalar = number | boolean;
export type Operand = Tensor | number;

/** The typed array that holds one dtype's elements (float16/bfloat16 as raw 16-bit patterns). */
export type TypedArrayOf<D extends DType> = D extends "float32"
  ? Float32Array
  : D extends "float64"
    ? Float64Array
    : D extends "int64"
      ? BigInt64Array
      : D extends "int32"
        ? Int32Array
        : D extends "int16"
          ? Int16Array
          : D extends "int8"
            ? Int8Array
            : D extends "float16" | "bfloat16"
              ? Uint16Array
              : Uint8Array;

export type AnyTypedArray =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint16Array
  | Uint8Array;

const ARRAY_TYPES: Record<DType, new (buffer: ArrayBuffer) => AnyTypedArray> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

export function bytesPerElement(dtype: DType): number {
  return new ARRAY_TYPES[dtype](new ArrayBuffer(8)).BYTES_PER_ELEMENT;
}

export function isFloating(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64" || dtype === "float16" || dtype === "bfloat16";
}

interface Meta {
  shape: number[];
  dtype: DType;
  device: Device;
}

/** Calls a native op that returns one tensor. */
export function op(name: string, ...args: NativeArg[]): Tensor {
  return new Tensor(native[name](...args) as Handle);
}

/** Calls a native op that returns several tensors. */
export function opList(name: string, ...args: NativeArg[]): Tensor[] {
  return (native[name](...args) as Handle[]).map((h) => new Tensor(h));
}

function h(value: Tensor): Handle {
  return value.handle;
}

function operand(value: Operand): Handle | number {
  return typeof value === "number" ? value : value.handle;
}

/** Normalises a possibly negative dimension index. */
export function normDim(dim: number, ndim: number): number {
  const d = dim < 0 ? dim + ndim : dim;
  if (d < 0 || d >= Math.max(ndim, 1)) throw new RangeError(`dimension ${dim} is out of range for a ${ndim}-d tensor`);
  return d;
}

export class Tensor {
  #handle: Handle | null;
  #meta: Meta | null = null;

  constructor(handle: Handle) {
    this.#handle = handle;
    track(this);
  }

  get handle(): Handle {
    if (this.#handle === null) throw new Error("tensor was disposed");
    return this.#handle;
  }

  get disposed(): boolean {
    return this.#handle === null;
  }

  /** Frees the native memory now (the handle becomes unusable). Safe to call twice. */
  dispose(): void {
    if (this.#handle === null) return;
    native.dispose(this.#handle);
    this.#handle = null;
  }

  private get meta(): Meta {
    this.#meta ??= native.meta(this.handle) as Meta;
    return this.#meta;
  }

  get shape(): number[] {
    return [...this.meta.shape];
  }
  get ndim(): number {
    return this.meta.shape.length;
  }
  get dtype(): DType {
    return this.meta.dtype;
  }
  get device(): Device {
    return this.meta.device;
  }
  get numel(): number {
    return this.meta.shape.reduce((a, b) => a * b, 1);
  }
  size(dim: number): number {
    return this.meta.shape[normDim(dim, this.ndim)];
  }

  toString(): string {
    return `Tensor(shape=[${this.meta.shape.join(", ")}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---- data in and out ----

  /** Copies the elements to a typed array of the tensor's dtype (row-major). */
  data<D extends DType = DType>(): TypedArrayOf<D> {
    const buffer = native.toBytes(this.handle) as ArrayBuffer;
    return new ARRAY_TYPES[this.dtype](buffer) as TypedArrayOf<D>;
  }

  /** Elements as plain numbers (float16/bfloat16 are converted through float32). */
  toArray(): number[] {
    if (this.dtype === "float16" || this.dtype === "bfloat16") {
      const f = this.to("float32");
      const out = Array.from(f.data<"float32">());
      f.dispose();
      return out;
    }
    const values = this.data();
    return values instanceof BigInt64Array ? Array.from(values, Number) : Array.from(values as ArrayLike<number>);
  }

  /** The value of a one-element tensor. */
  item(): number {
    return Number(native.item(this.handle));
  }

  // ---- conversion ----

  to(target: DType | Device, nonBlocking = false): Tensor {
    if (target in ARRAY_TYPES) return op("toDtype", this.handle, target);
    return op("toDevice", this.handle, target, nonBlocking);
  }
  float(): Tensor {
    return this.to("float32");
  }
  long(): Tensor {
    return this.to("int64");
  }
  clone(): Tensor {
    return op("clone", this.handle);
  }
  contiguous(): Tensor {
    return op("contiguous", this.handle);
  }

  // ---- shape and views ----

  reshape(shape: readonly number[]): Tensor {
    return op("reshape", this.handle, shape);
  }
  view(shape: readonly number[]): Tensor {
    return op("view", this.handle, shape);
  }
  permute(dims: readonly number[]): Tensor {
    return op("permute", this.handle, dims);
  }
  transpose(a: number, b: number): Tensor {
    return op("transpose", this.handle, a, b);
  }
  squeeze(dim?: number): Tensor {
    return op("squeeze", this.handle, dim);
  }
  unsqueeze(dim: number): Tensor {
    return op("unsqueeze", this.handle, dim);
  }
  flatten(start = 0, end = -1): Tensor {
    return op("flatten", this.handle, start, end);
  }
  expand(shape: readonly number[]): Tensor {
    return op("expand", this.handle, shape);
  }
  flip(dims: readonly number[]): Tensor {
    return op("flip", this.handle, dims);
  }
  roll(shifts: readonly number[], dims: readonly number[]): Tensor {
    return op("roll", this.handle, shifts, dims);
  }
  repeat(times: readonly number[]): Tensor {
    return op("repeat", this.handle, times);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return op("narrow", this.handle, dim, start, length);
  }
  /** A strided view of [start, end) along dim (negative indices count from the end). */
  slice(dim: number, start: number, end?: number, step = 1): Tensor {
    return op("slice", this.handle, dim, start, end ?? null, step);
  }
  select(dim: number, index: number): Tensor {
    return op("select", this.handle, dim, index);
  }
  /**
   * Indexes with one entry per leading dimension: a number selects (drops the dimension),
   * [start, end] or [start, end, step] slices, null keeps the whole dimension.
   */
  index(...spec: (number | [number, number?, number?] | null)[]): Tensor {
    let out: Tensor = this;
    let dim = 0;
    const owned: Tensor[] = [];
    for (const s of spec) {
      if (s === null) {
        dim++;
        continue;
      }
      out = typeof s === "number" ? out.select(dim, s) : out.slice(dim, s[0], s[1], s[2] ?? 1);
      owned.push(out);
      if (typeof s !== "number") dim++;
    }
    if (out === this) return this.view(this.shape);
    for (const t of owned.slice(0, -1)) t.dispose();
    return out;
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return op("indexSelect", this.handle, dim, index.handle);
  }
  gather(dim: number, index: Tensor): Tensor {
    return op("gather", this.handle, dim, index.handle);
  }
  scatter(dim: number, index: Tensor, src: Tensor): Tensor {
    return op("scatter", this.handle, dim, index.handle, src.handle);
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return op("scatterAdd", this.handle, dim, index.handle, src.handle);
  }
  maskedFill(mask: Tensor, value: Scalar): Tensor {
    return op("maskedFill", this.handle, mask.handle, value);
  }
  maskedSelect(mask: Tensor): Tensor {
    return op("maskedSelect", this.handle, mask.handle);
  }
  nonzero(): Tensor {
    return op("nonzero", this.handle);
  }
  split(size: number, dim = 0): Tensor[] {
    return opList("split", this.handle, size, dim);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return opList("chunk", this.handle, chunks, dim);
  }
  unbind(dim = 0): Tensor[] {
    return opList("unbind", this.handle, dim);
  }

  // ---- in place (no autograd history on leaves that require grad) ----

  copy_(src: Tensor): this {
    native.copy_(this.handle, src.handle);
    return this;
  }
  fill_(value: Scalar): this {
    native.fill_(this.handle, value);
    return this;
  }
  zero_(): this {
    native.zero_(this.handle);
    return this;
  }
  /** this += alpha * other */
  addScaled_(other: Tensor, alpha = 1): this {
    native.addScaled_(this.handle, other.handle, alpha);
    return this;
  }
  mul_(other: Operand): this {
    native.mul_(this.handle, operand(other));
    return this;
  }
  clamp_(min: number | null, max: number | null = null): this {
    native.clamp_(this.handle, min, max);
    return this;
  }

  // ---- elementwise ----

  add(other: Operand): Tensor {
    return op("add", this.handle, operand(other));
  }
  sub(other: Operand): Tensor {
    return op("sub", this.handle, operand(other));
  }
  /** value - this */
  rsub(value: number): Tensor {
    return op("rsub", this.handle, value);
  }
  mul(other: Operand): Tensor {
    return op("mul", this.handle, operand(other));
  }
  div(other: Operand): Tensor {
    return op("div", this.handle, operand(other));
  }
  floorDiv(other: Operand): Tensor {
    return op("divMode", this.handle, operand(other), "floor");
  }
  pow(exponent: Operand): Tensor {
    return op("pow", this.handle, operand(exponent));
  }
  remainder(other: Operand): Tensor {
    return op("remainder", this.handle, operand(other));
  }
  maximum(other: Operand): Tensor {
    return typeof other === "number" ? this.clamp(other, null) : op("maximum", this.handle, other.handle);
  }
  minimum(other: Operand): Tensor {
    return typeof other === "number" ? this.clamp(null, other) : op("minimum", this.handle, other.handle);
  }
  clamp(min: number | null, max: number | null = null): Tensor {
    return op("clamp", this.handle, min, max);
  }
  lerp(end: Tensor, weight: number): Tensor {
    return op("lerp", this.handle, end.handle, weight);
  }
  neg(): Tensor {
    return op("neg", this.handle);
  }
  exp(): Tensor {
    return op("exp", this.handle);
  }
  log(): Tensor {
    return op("log", this.handle);
  }
  log1p(): Tensor {
    return op("log1p", this.handle);
  }
  expm1(): Tensor {
    return op("expm1", this.handle);
  }
  sqrt(): Tensor {
    return op("sqrt", this.handle);
  }
  rsqrt(): Tensor {
    return op("rsqrt", this.handle);
  }
  square(): Tensor {
    return op("square", this.handle);
  }
  abs(): Tensor {
    return op("abs", this.handle);
  }
  sign(): Tensor {
    return op("sign", this.handle);
  }
  floor(): Tensor {
    return op("floor", this.handle);
  }
  ceil(): Tensor {
    return op("ceil", this.handle);
  }
  round(): Tensor {
    return op("round", this.handle);
  }
  trunc(): Tensor {
    return op("trunc", this.handle);
  }
  sin(): Tensor {
    return op("sin", this.handle);
  }
  cos(): Tensor {
    return op("cos", this.handle);
  }
  erf(): Tensor {
    return op("erf", this.handle);
  }
  reciprocal(): Tensor {
    return op("reciprocal", this.handle);
  }
  sigmoid(): Tensor {
    return op("sigmoid", this.handle);
  }
  tanh(): Tensor {
    return op("tanh", this.handle);
  }
  relu(): Tensor {
    return op("relu", this.handle);
  }

  // ---- comparisons and logic ----

  eq(other: Operand): Tensor {
    return op("eq", this.handle, operand(other));
  }
  ne(other: Operand): Tensor {
    return op("ne", this.handle, operand(other));
  }
  lt(other: Operand): Tensor {
    return op("lt", this.handle, operand(other));
  }
  le(other: Operand): Tensor {
    return op("le", this.handle, operand(other));
  }
  gt(other: Operand): Tensor {
    return op("gt", this.handle, operand(other));
  }
  ge(other: Operand): Tensor {
    return op("ge", this.handle, operand(other));
  }
  logicalAnd(other: Tensor): Tensor {
    return op("logicalAnd", this.handle, other.handle);
  }
  logicalOr(other: Tensor): Tensor {
    return op("logicalOr", this.handle, other.handle);
  }
  logicalXor(other: Tensor): Tensor {
    return op("logicalXor", this.handle, other.handle);
  }
  logicalNot(): Tensor {
    return op("logicalNot", this.handle);
  }
  isnan(): Tensor {
    return op("isnan", this.handle);
  }
  isinf(): Tensor {
    return op("isinf", this.handle);
  }
  isfinite(): Tensor {
    return op("isfinite", this.handle);
  }

  // ---- reductions ----

  sum(dims?: number | readonly number[], keepdim = false, dtype?: DType): Tensor {
    return op("sum", this.handle, dimList(dims), keepdim, dtype ?? null);
  }
  mean(dims?: number | readonly number[], keepdim = false): Tensor {
    return op("mean", this.handle, dimList(dims), keepdim);
  }
  var(dims?: number | readonly number[], unbiased = true, keepdim = false): Tensor {
    return op("var", this.handle, dimList(dims), unbiased, keepdim);
  }
  std(dims?: number | readonly number[], unbiased = true, keepdim = false): Tensor {
    const v = this.var(dims, unbiased, keepdim);
    const out = v.sqrt();
    v.dispose();
    return out;
  }
  prod(): Tensor {
    return op("prod", this.handle);
  }
  amax(dims: number | readonly number[], keepdim = false): Tensor {
    return op("amax", this.handle, dimList(dims), keepdim);
  }
  amin(dims: number | readonly number[], keepdim = false): Tensor {
    return op("amin", this.handle, dimList(dims), keepdim);
  }
  /** Max over all elements, or [values, indices] along dim. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): [Tensor, Tensor];
  max(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    if (dim === undefined) return op("amax", this.handle, [...this.shape.keys()], false);
    return opList("maxDim", this.handle, dim, keepdim) as [Tensor, Tensor];
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): [Tensor, Tensor];
  min(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    if (dim === undefined) return op("amin", this.handle, [...this.shape.keys()], false);
    return opList("minDim", this.handle, dim, keepdim) as [Tensor, Tensor];
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return op("argmax", this.handle, dim ?? null, keepdim);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return op("argmin", this.handle, dim ?? null, keepdim);
  }
  logsumexp(dims: number | readonly number[], keepdim = false): Tensor {
    return op("logsumexp", this.handle, dimList(dims), keepdim);
  }
  cumsum(dim: number): Tensor {
    return op("cumsum", this.handle, dim);
  }
  all(dim?: number, keepdim = false): Tensor {
    return op("all", this.handle, dim ?? null, keepdim);
  }
  any(dim?: number, keepdim = false): Tensor {
    return op("any", this.handle, dim ?? null, keepdim);
  }
  countNonzero(): Tensor {
    return op("countNonzero", this.handle);
  }
  /** Euclidean (p = 2) or p-norm over all elements. */
  norm(p = 2): Tensor {
    const a = this.abs();
    const powered = a.pow(p);
    const s = powered.sum();
    const out = s.pow(1 / p);
    for (const t of [a, powered, s]) t.dispose();
    return out;
  }
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
    return opList("topk", this.handle, k, dim, largest, sorted) as [Tensor, Tensor];
  }
  sort(dim = -1, descending = false): [Tensor, Tensor] {
    return opList("sort", this.handle, dim, descending) as [Tensor, Tensor];
  }

  // ---- linear algebra ----

  matmul(other: Tensor): Tensor {
    return op("matmul", this.handle, other.handle);
  }

  // ---- autograd ----

  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle) as boolean;
  }
  requiresGrad_(value = true): this {
    native.setRequiresGrad(this.handle, value);
    return this;
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle) as boolean;
  }
  /** The accumulated gradient (a new handle each call), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle) as Handle | null;
    return g === null ? null : new Tensor(g);
  }
  zeroGrad(): void {
    native.zeroGrad(this.handle);
  }
  backward(gradient?: Tensor, retainGraph?: boolean): void {
    native.backward(this.handle, gradient ? h(gradient) : null, retainGraph ?? null);
  }
  detach(): Tensor {
    return op("detach", this.handle);
  }
}

function dimList(dims: number | readonly number[] | undefined): readonly number[] | null {
  if (dims === undefined) return null;
  return typeof dims === "number" ? [dims] : dims;
}
