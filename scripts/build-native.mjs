// Builds the engine addon (native/*.cc) against the libtorch that findLibtorch() picks.
// Plain g++ calls, no node-gyp: it works offline and needs only Node's headers.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { INSTALL_HINT, findDistributed, findLibtorch } from "./libtorch.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const nativeDir = path.join(root, "native");
const outDir = path.join(root, "build", "native");
const objDir = path.join(outDir, "obj");
const force = process.argv.includes("--force");

function nodeIncludeDir() {
  const candidates = [
    process.env.NODE_INCLUDE_DIR,
    path.join(path.dirname(process.execPath), "..", "include", "node"),
    path.join(os.homedir(), ".cache", "node-gyp", process.versions.node, "include", "node"),
    "/usr/include/node",
  ].filter(Boolean);
  const dir = candidates.find((d) => existsSync(path.join(d, "node_api.h")));
  if (!dir) {
    throw new Error(
      `Node's C headers (node_api.h) were not found in: ${candidates.join(", ")}.\nInstall them (e.g. \`npx node-gyp install\`, or your distribution's nodejs headers) or set NODE_INCLUDE_DIR.`,
    );
  }
  return dir;
}

function cxxStandard(version) {
  // libtorch 2.12 and later refuse C++17; the addon's code is valid C++17 and C++20.
  if (process.env.BACKSPLIT_CXX_STD) return process.env.BACKSPLIT_CXX_STD;
  const [major, minor] = version.split(".").map(Number);
  return major > 2 || (major === 2 && minor >= 12) ? "c++20" : "c++17";
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

async function parallel(tasks, limit) {
  const queue = [...tasks];
  const workers = Array.from({ length: Math.max(1, limit) }, async () => {
    while (queue.length > 0) await queue.shift()();
  });
  await Promise.all(workers);
}

const torch = findLibtorch();
if (!torch) {
  console.error(INSTALL_HINT);
  process.exit(3);
}
const require = createRequire(import.meta.url);
const addonApiDir = require("node-addon-api").include_dir;
const std = cxxStandard(torch.version);
const dist = findDistributed(torch);
const cflags = [
  `-std=${std}`,
  "-O2",
  "-fPIC",
  "-fvisibility=hidden",
  "-Wall",
  "-Wno-unused-parameter",
  "-Wno-deprecated-declarations",
  `-D_GLIBCXX_USE_CXX11_ABI=${torch.cxx11Abi ? 1 : 0}`,
  "-DNAPI_VERSION=8",
  "-DNAPI_CPP_EXCEPTIONS",
  `-I${nodeIncludeDir()}`,
  `-I${path.resolve(root, addonApiDir)}`,
  ...torch.includeDirs.map((d) => `-I${d}`),
  ...dist.includeDirs.map((d) => `-I${d}`),
  ...(dist.gloo ? ["-DUSE_C10D_GLOO"] : []),
  ...(dist.nccl ? ["-DUSE_C10D_NCCL"] : []),
];
// libtorch_cuda is only reached through registration side effects, so --as-needed would drop it.
const cudaLibs = torch.cuda ? ["-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Wl,--as-needed"] : [];
const ldflags = [`-L${torch.libDir}`, `-Wl,-rpath,${torch.libDir}`, ...cudaLibs, "-ltorch", "-ltorch_cpu", "-lc10"];

const config = { ...torch, cxxStandard: std, gloo: dist.gloo, nccl: dist.nccl, builtAt: new Date().toISOString() };
const configFile = path.join(outDir, "config.json");
const configKey = JSON.stringify({ ...config, builtAt: undefined });
const previousKey = existsSync(configFile)
  ? JSON.stringify({ ...JSON.parse(readFileSync(configFile, "utf8")), builtAt: undefined })
  : "";
const rebuildAll = force || previousKey !== configKey;

mkdirSync(objDir, { recursive: true });
const headerTime = Math.max(
  ...readdirSync(nativeDir)
    .filter((f) => f.endsWith(".h"))
    .map((f) => statSync(path.join(nativeDir, f)).mtimeMs),
);
const sources = readdirSync(nativeDir).filter((f) => f.endsWith(".cc"));
const objects = sources.map((f) => path.join(objDir, f.replace(/\.cc$/, ".o")));
const stale = sources.filter((f, i) => {
  if (rebuildAll || !existsSync(objects[i])) return true;
  const objTime = statSync(objects[i]).mtimeMs;
  return objTime < statSync(path.join(nativeDir, f)).mtimeMs || objTime < headerTime;
});

console.error(
  `[build-native] libtorch ${torch.version} from ${torch.source} (${torch.libDir}), ${std}, cuda=${torch.cuda}`,
);
console.error(
  `[build-native] c10d: gloo=${dist.gloo}${dist.glooWhy ? ` (${dist.glooWhy})` : ""}, nccl=${dist.nccl}${dist.ncclWhy ? ` (${dist.ncclWhy})` : ""}`,
);
const started = Date.now();
const compile = (f, flags) =>
  run(process.env.CXX || "g++", [
    ...flags,
    "-c",
    path.join(nativeDir, f),
    "-o",
    path.join(objDir, f.replace(/\.cc$/, ".o")),
  ]);
// The c10d backends come from headers outside libtorch's own (gloo, nccl.h, CUDA's): should they not
// compile against this libtorch, the engine is still built, without that backend, and says so.
const withoutBackend = (flags, macro) => flags.filter((f) => f !== macro);
async function compileDist(f) {
  const attempts = [
    { flags: cflags, gloo: dist.gloo, nccl: dist.nccl },
    ...(dist.nccl ? [{ flags: withoutBackend(cflags, "-DUSE_C10D_NCCL"), gloo: dist.gloo, nccl: false }] : []),
    ...(dist.gloo || dist.nccl
      ? [
          {
            flags: withoutBackend(withoutBackend(cflags, "-DUSE_C10D_NCCL"), "-DUSE_C10D_GLOO"),
            gloo: false,
            nccl: false,
          },
        ]
      : []),
  ];
  for (const [i, a] of attempts.entries()) {
    try {
      await compile(f, a.flags);
      config.gloo = a.gloo;
      config.nccl = a.nccl;
      return;
    } catch (error) {
      if (i === attempts.length - 1) throw error;
      console.error(`[build-native] ${f} did not compile with gloo=${a.gloo}, nccl=${a.nccl}: retrying without`);
    }
  }
}
await parallel(
  stale.map((f) => async () => {
    console.error(`[build-native] compiling ${f}`);
    await (f === "dist.cc" ? compileDist(f) : compile(f, cflags));
  }),
  os.availableParallelism(),
);
const target = path.join(outDir, "backsplit_engine.node");
if (stale.length > 0 || !existsSync(target)) {
  const tmp = `${target}.tmp-${process.pid}`;
  await run(process.env.CXX || "g++", ["-shared", "-o", tmp, ...objects, ...ldflags]);
  renameSync(tmp, target);
}
writeFileSync(`${configFile}.tmp`, JSON.stringify(config, null, 2));
renameSync(`${configFile}.tmp`, configFile);
console.error(`[build-native] ${target} ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
