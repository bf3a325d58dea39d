// safetensors interoperability with an independent Python reader/writer.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { loadSafetensors, manualSeed, saveSafetensors, tensor } from "../../src/engine/index.js";
import { PlainUNet } from "../../src/models/plain-unet.js";
import { runPython } from "../helpers/python.js";

type Described = { dtype: string; shape: number[]; values: number[] };
const CODE: Record<string, string> = {
  float32: "F32",
  float64: "F64",
  float16: "F16",
  bfloat16: "BF16",
  int64: "I64",
  uint8: "U8",
  bool: "BOOL",
};

test("reads a safetensors file written by Python, every dtype", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-st-"));
  const file = path.join(dir, "py.safetensors");
  const expected = runPython<Record<string, Described>>("safetensors_reference.py", {}, ["write", file]);
  const { tensors, metadata } = loadSafetensors(file);
  assert.deepEqual(metadata, { format: "pt", writer: "python" });
  assert.deepEqual([...tensors.keys()].sort(), Object.keys(expected).sort());
  for (const [name, e] of Object.entries(expected)) {
    const t = tensors.get(name)!;
    assert.equal(CODE[t.dtype], e.dtype, name);
    assert.deepEqual(t.shape, e.shape, name);
    assert.deepEqual(t.toArray(), e.values, name);
  }
});

test("Python reads what we write (model weights, metadata, alignment)", () => {
  manualSeed(0);
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-st-"));
  const file = path.join(dir, "ours.safetensors");
  const net = new PlainUNet({ dims: 3, inChannels: 1, numClasses: 3, features: [4, 8] });
  const state = net.stateDict();
  state.set("extra.half", tensor([1, -2.5, 0.125]).to("float16"));
  state.set("extra.mask", tensor([1, 0], [2], { dtype: "bool" }));
  state.set("extra.steps", tensor(new BigInt64Array([5n, 2n ** 40n])));
  saveSafetensors(file, state, { arch: "PlainUNet" });
  assert.deepEqual(readdirSync(dir), ["ours.safetensors"], "no temporary file left behind");
  const read = runPython<
    Record<string, Described> & { __metadata__: Record<string, string>; __header_aligned__: boolean }
  >("safetensors_reference.py", {}, ["read", file]);
  assert.deepEqual(read.__metadata__, { arch: "PlainUNet" });
  assert.equal(read.__header_aligned__, true);
  for (const [name, t] of state) {
    const e = read[name] as Described;
    assert.equal(e.dtype, CODE[t.dtype], name);
    assert.deepEqual(e.shape, t.shape, name);
    assert.deepEqual(e.values, t.toArray(), name);
  }
  // Round trip into a fresh model.
  const copy = new PlainUNet({ dims: 3, inChannels: 1, numClasses: 3, features: [4, 8] });
  const loaded = loadSafetensors(file).tensors;
  for (const k of ["extra.half", "extra.mask", "extra.steps"]) loaded.delete(k);
  copy.loadStateDict(loaded);
  for (const [name, t] of net.stateDict()) assert.deepEqual(copy.stateDict().get(name)!.toArray(), t.toArray(), name);
});

test("corrupt files give errors that name the file", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-st-"));
  const file = path.join(dir, "bad.safetensors");
  writeFileSync(file, Buffer.from([1, 2, 3]));
  assert.throws(() => loadSafetensors(file), new RegExp(`${file}: too short`));
  const header = Buffer.from('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(file, Buffer.concat([len, header, Buffer.alloc(8)]));
  assert.throws(() => loadSafetensors(file), /tensor w lies outside the file/);
});
