// `backsplit export --onnx`: a trained network as an ONNX graph (opset 17) whose outputs are the
// lesion probability and the lesion mask by the recorded collapse rule, for onnxruntime and browsers.
// The protobuf is written directly (field numbers from onnx.proto); the graph is emitted by walking
// the network's modules, so what is exported is exactly the weights we trained.
import { Conv, ConvTranspose, InstanceNorm, LeakyReLU, Sequential } from "../engine/nn/layers.js";
import type { Module } from "../engine/nn/module.js";
import type { Tensor } from "../engine/tensor.js";
import { PlainUNet } from "../models/plain-unet.js";
import { ResEncUNet } from "../models/resenc-unet.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import { type CollapseRule, type LesionTest, lesionTest } from "./collapse.js";

// ---- protobuf ----

type Bytes = Uint8Array;

function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

const concat = (parts: Bytes[]): Bytes => Buffer.concat(parts);
const key = (field: number, wire: number) => Uint8Array.from(varint((field << 3) | wire));
const int = (field: number, value: number | bigint): Bytes => concat([key(field, 0), Uint8Array.from(varint(value))]);
const bytes = (field: number, payload: Bytes): Bytes =>
  concat([key(field, 2), Uint8Array.from(varint(payload.length)), payload]);
const str = (field: number, s: string): Bytes => bytes(field, Buffer.from(s, "utf8"));
function float32(field: number, value: number): Bytes {
  const b = Buffer.alloc(4);
  b.writeFloatLE(value);
  return concat([key(field, 5), b]);
}

// AttributeProto
const attrInt = (name: string, i: number) => concat([str(1, name), int(3, i), int(20, 2)]);
const attrInts = (name: string, values: number[]) =>
  concat([str(1, name), ...values.map((v) => int(8, v)), int(20, 7)]);
const attrFloat = (name: string, f: number) => concat([str(1, name), float32(2, f), int(20, 1)]);

const FLOAT = 1;
const INT64 = 7;
const UINT8 = 2;

function tensorProto(name: string, dims: number[], type: number, raw: Bytes): Bytes {
  return concat([...dims.map((d) => int(1, d)), int(2, type), str(8, name), bytes(9, raw)]);
}

function valueInfo(name: string, type: number, dims: (number | string)[]): Bytes {
  const shape = concat(dims.map((d) => bytes(1, typeof d === "number" ? int(1, d) : str(2, d))));
  const tensorType = concat([int(1, type), bytes(2, shape)]);
  return concat([str(1, name), bytes(2, bytes(1, tensorType))]);
}

// ---- graph building ----

class Graph {
  readonly nodes: Bytes[] = [];
  readonly initializers: Bytes[] = [];
  #count = 0;

  name(prefix: string): string {
    return `${prefix}_${this.#count++}`;
  }

  node(op: string, inputs: string[], attributes: Bytes[] = [], outputName?: string): string {
    const output = outputName ?? this.name(op.toLowerCase());
    this.nodes.push(
      concat([
        ...inputs.map((i) => str(1, i)),
        str(2, output),
        str(3, output),
        str(4, op),
        ...attributes.map((a) => bytes(5, a)),
      ]),
    );
    return output;
  }

  weight(t: Tensor): string {
    const name = this.name("w");
    const data = t.detach().to("cpu").float().contiguous().data<"float32">();
    this.initializers.push(tensorProto(name, t.shape, FLOAT, new Uint8Array(data.buffer)));
    return name;
  }

  int64s(values: number[]): string {
    const name = this.name("c");
    this.initializers.push(
      tensorProto(name, [values.length], INT64, new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer)),
    );
    return name;
  }

  scalarFloat(value: number): string {
    const name = this.name("c");
    this.initializers.push(tensorProto(name, [], FLOAT, new Uint8Array(Float32Array.of(value).buffer)));
    return name;
  }
}

function ints(v: number | readonly number[] | undefined, n: number, fallback: number): number[] {
  if (v === undefined) return Array(n).fill(fallback);
  return typeof v === "number" ? Array(n).fill(v) : [...v];
}

function emit(g: Graph, m: Module, x: string): string {
  if (m instanceof Sequential) return m.layers.reduce((h, layer) => emit(g, layer, h), x);
  if (m instanceof Conv) {
    const c = m.config;
    const n = c.dims;
    const kernel = ints(c.kernel, n, 3);
    const pads =
      c.padding === "same" ? kernel.map((k) => (k - 1) >> 1) : ints(c.padding as number | number[] | undefined, n, 0);
    const inputs = [x, g.weight(m.weight), ...(m.bias ? [g.weight(m.bias)] : [])];
    return g.node("Conv", inputs, [
      attrInts("kernel_shape", kernel),
      attrInts("strides", ints(c.stride, n, 1)),
      attrInts("pads", [...pads, ...pads]),
      attrInts("dilations", ints(c.dilation, n, 1)),
      attrInt("group", c.groups ?? 1),
    ]);
  }
  if (m instanceof ConvTranspose) {
    const c = m.config;
    const n = c.dims;
    const inputs = [x, g.weight(m.weight), ...(m.bias ? [g.weight(m.bias)] : [])];
    return g.node("ConvTranspose", inputs, [
      attrInts("kernel_shape", ints(c.kernel, n, 2)),
      attrInts("strides", ints(c.stride, n, 1)),
    ]);
  }
  if (m instanceof InstanceNorm) {
    const state = m.stateDict();
    return g.node(
      "InstanceNormalization",
      [x, g.weight(state.get("weight")!), g.weight(state.get("bias")!)],
      [attrFloat("epsilon", m.eps)],
    );
  }
  if (m instanceof LeakyReLU) return g.node("LeakyRelu", [x], [attrFloat("alpha", m.negativeSlope)]);
  throw new Error(`ONNX export does not know ${m.constructor.name} yet`);
}

function emitResidual(g: Graph, block: Module, x: string): string {
  const b = block as unknown as {
    conv1: Conv;
    norm1: InstanceNorm;
    conv2: Conv;
    norm2: InstanceNorm;
    project: Sequential | null;
    stride: number | number[];
    dims: 2 | 3;
  };
  let h = emit(g, b.conv1, x);
  h = emit(g, b.norm1, h);
  h = g.node("LeakyRelu", [h], [attrFloat("alpha", 0.01)]);
  h = emit(g, b.norm2, emit(g, b.conv2, h));
  let skip = x;
  const stride = ints(b.stride, b.dims, 1);
  if (stride.some((s) => s !== 1)) {
    skip = g.node(
      "AveragePool",
      [skip],
      [
        attrInts("kernel_shape", stride),
        attrInts("strides", stride),
        attrInt("ceil_mode", 1),
        attrInt("count_include_pad", 0),
      ],
    );
  }
  if (b.project) skip = emit(g, b.project, skip);
  return g.node("LeakyRelu", [g.node("Add", [h, skip])], [attrFloat("alpha", 0.01)]);
}

/** The logits graph of a U-Net-style network (full-resolution head only). */
function emitNetwork(g: Graph, net: Module, input: string): string {
  if (net instanceof PlainUNet || net instanceof ResEncUNet) {
    const u = net as PlainUNet | ResEncUNet;
    let h = u instanceof ResEncUNet ? emit(g, u.stem, input) : input;
    const skips: string[] = [];
    for (const enc of u.encoder) {
      h = u instanceof ResEncUNet ? enc.layers.reduce((acc, block) => emitResidual(g, block, acc), h) : emit(g, enc, h);
      skips.push(h);
    }
    for (let k = 0; k < u.decoder.length; k++) {
      const up = emit(g, u.upsample[k], h);
      h = emit(g, u.decoder[k], g.node("Concat", [up, skips[skips.length - 2 - k]], [attrInt("axis", 1)]));
    }
    return emit(g, u.heads[u.decoder.length - 1], h);
  }
  throw new Error(`ONNX export supports the plain and residual-encoder U-Nets (not ${net.constructor.name} yet)`);
}

/** The collapse rule (folded into the lesion_mask output), the dimensionality and extra metadata. */
export interface ExportOptions extends CollapseRule {
  dims: 2 | 3;
  metadata?: Record<string, string>;
}

/** The collapse rule's lesion test as graph nodes: a boolean [N, 1, ...] from the class probabilities. */
function emitLesionTest(g: Graph, probs: string, probability: string, test: LesionTest): string {
  if (test.kind === "sum-above") return g.node("Greater", [probability, g.scalarFloat(test.threshold)]);
  const winner = g.node("ArgMax", [probs], [attrInt("axis", 1), attrInt("keepdims", 1)]);
  const matches = test.classes.map((v) => g.node("Equal", [winner, g.int64s([v])]));
  return matches.reduce((a, b) => g.node("Or", [a, b]));
}

/** Serialises the network as an ONNX model: input [N, C, ...], outputs lesion_probability (float) and lesion_mask (uint8). */
export function exportOnnx(net: Module, file: string, o: ExportOptions): void {
  const g = new Graph();
  const spatial = o.dims === 3 ? ["depth", "height", "width"] : ["height", "width"];
  const logits = emitNetwork(g, net, "input");
  const probs = g.node("Softmax", [logits], [attrInt("axis", 1)], "class_probabilities");
  const lesion = g.node("Gather", [probs, g.int64s([...o.lesionValues])], [attrInt("axis", 1)]);
  const probability = g.node("ReduceSum", [lesion, g.int64s([1])], [attrInt("keepdims", 1)], "lesion_probability");
  const isLesion = emitLesionTest(g, probs, probability, lesionTest(o));
  g.node("Cast", [isLesion], [attrInt("to", UINT8)], "lesion_mask");
  const graph = concat([
    ...g.nodes.map((n) => bytes(1, n)),
    str(2, "backsplit"),
    ...g.initializers.map((t) => bytes(5, t)),
    bytes(11, valueInfo("input", FLOAT, ["batch", "channels", ...spatial])),
    bytes(12, valueInfo("lesion_probability", FLOAT, ["batch", 1, ...spatial])),
    bytes(12, valueInfo("lesion_mask", UINT8, ["batch", 1, ...spatial])),
    bytes(12, valueInfo("class_probabilities", FLOAT, ["batch", "classes", ...spatial])),
  ]);
  const metadata = Object.entries({ collapse: o.collapse, threshold: String(o.threshold), ...o.metadata }).map(
    ([k, v]) => bytes(14, concat([str(1, k), str(2, v)])),
  );
  const model = concat([
    int(1, 8),
    str(2, "backsplit"),
    str(3, "0.1.0"),
    bytes(7, graph),
    bytes(8, concat([str(1, ""), int(2, 17)])),
    ...metadata,
  ]);
  writeFileAtomicSync(file, model);
}
