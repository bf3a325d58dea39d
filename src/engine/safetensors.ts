// Weights as safetensors files (https://github.com/huggingface/safetensors format):
// u64 little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then raw bytes.
import { readFileSync } from "node:fs";
import { writeFileAtomicSync } from "../util/atomic.js";
import { type DType, type Tensor, op } from "./tensor.js";

const TO_CODE: Record<DType, string> = {
  float32: "F32",
  float64: "F64",
  float16: "F16",
  bfloat16: "BF16",
  int64: "I64",
  int32: "I32",
  int16: "I16",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
};
const FROM_CODE = Object.fromEntries(Object.entries(TO_CODE).map(([k, v]) => [v, k as DType])) as Record<string, DType>;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Makes a tensor from raw little-endian bytes (copied). */
export function fromBytes(bytes: Uint8Array, shape: readonly number[], dtype: DType): Tensor {
  return op("fromArray", bytes, shape, dtype, null);
}

/** Serialises tensors (moved to CPU) and string metadata to safetensors bytes. */
export function encodeSafetensors(tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, HeaderEntry | Record<string, string>> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of [...tensors.keys()].sort()) {
    const t = tensors.get(name)!;
    const bytes = new Uint8Array(t.data().buffer);
    header[name] = { dtype: TO_CODE[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // keep the data 8-byte aligned
  const headerBytes = Buffer.from(json, "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.byteLength));
  return [length, headerBytes, ...chunks];
}

export function saveSafetensors(
  file: string,
  tensors: Map<string, Tensor>,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomicSync(file, encodeSafetensors(tensors, metadata));
}

export interface SafetensorsContent {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

export function decodeSafetensors(bytes: Uint8Array, source = "safetensors data"): SafetensorsContent {
  if (bytes.byteLength < 8) throw new Error(`${source}: too short to be a safetensors file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.byteLength - 8) throw new Error(`${source}: header length ${headerLength} exceeds the file`);
  let header: Record<string, HeaderEntry | Record<string, string>>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLength).toString("utf8"));
  } catch (error) {
    throw new Error(`${source}: header is not valid JSON (${(error as Error).message})`);
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>;
      continue;
    }
    const {
      dtype,
      shape,
      data_offsets: [begin, end],
    } = entry as HeaderEntry;
    const type = FROM_CODE[dtype];
    if (!type) throw new Error(`${source}: tensor ${name} has unsupported dtype ${dtype}`);
    if (dataStart + end > bytes.byteLength || begin > end)
      throw new Error(`${source}: tensor ${name} lies outside the file`);
    tensors.set(name, fromBytes(bytes.subarray(dataStart + begin, dataStart + end), shape, type));
  }
  return { tensors, metadata };
}

export function loadSafetensors(file: string): SafetensorsContent {
  return decodeSafetensors(readFileSync(file), file);
}
