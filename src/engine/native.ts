// Loads the libtorch addon built by scripts/build-native.mjs.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Opaque reference to a libtorch tensor owned by the addon. */
export type Handle = { readonly __brand: "TensorHandle" };
/** Opaque reference to a libtorch optimiser owned by the addon. */
export type OptimizerHandle = { readonly __brand: "OptimizerHandle" };

export type NativeArg =
  | Handle
  | OptimizerHandle
  | number
  | boolean
  | string
  | null
  | undefined
  | readonly number[]
  | readonly Handle[]
  | ArrayBufferView
  | Buffer
  | Record<string, number | boolean>;

export type NativeEngine = Record<string, (...args: NativeArg[]) => unknown>;

export interface BuildConfig {
  source: string;
  root: string;
  includeDirs: string[];
  libDir: string;
  version: string;
  cuda: boolean;
  cxx11Abi: boolean;
  cxxStandard: string;
  builtAt: string;
}

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const buildDir = path.join(projectRoot, "build", "native");

function load(): NativeEngine {
  const file = process.env.BACKSPLIT_ENGINE_ADDON ?? path.join(buildDir, "backsplit_engine.node");
  if (!existsSync(file)) {
    throw new Error(`the libtorch engine is not built (${file} is missing): run \`npm run build\` in ${projectRoot}`);
  }
  const require = createRequire(import.meta.url);
  return require(file) as NativeEngine;
}

export const native: NativeEngine = load();

/** Where and how the addon was built (libtorch location, version, ABI), or null if unknown. */
export function buildConfig(): BuildConfig | null {
  const file = path.join(buildDir, "config.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as BuildConfig) : null;
}
