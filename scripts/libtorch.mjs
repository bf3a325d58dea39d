// Finds a libtorch installation: $LIBTORCH, else python3's torch package, else Debian's libtorch-dev.
// Used by the native build and printed by `backsplit engine info`.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";

const TORCH_HEADER = path.join("torch", "csrc", "api", "include", "torch", "torch.h");

function readVersion(includeDirs) {
  for (const dir of includeDirs) {
    const file = path.join(dir, "torch", "version.h");
    if (!existsSync(file)) continue;
    const text = readFileSync(file, "utf8");
    const major = /TORCH_VERSION_MAJOR (\d+)/.exec(text)?.[1];
    const minor = /TORCH_VERSION_MINOR (\d+)/.exec(text)?.[1];
    const patch = /TORCH_VERSION_PATCH (\d+)/.exec(text)?.[1];
    if (major && minor) return `${major}.${minor}.${patch ?? 0}`;
  }
  return "unknown";
}

// A libtorch built with the new (C++11) std::string ABI exports "__cxx11" symbols from libc10.
function detectCxx11Abi(libDir) {
  const lib = path.join(libDir, "libc10.so");
  try {
    const symbols = execFileSync("nm", ["-D", "--defined-only", lib], { encoding: "utf8", maxBuffer: 1 << 28 });
    return symbols.includes("__cxx11");
  } catch {
    return true;
  }
}

function fromFolder(root, source) {
  const include = path.join(root, "include");
  const lib = path.join(root, "lib");
  if (!existsSync(path.join(include, TORCH_HEADER)) || !existsSync(path.join(lib, "libtorch.so"))) return null;
  const includeDirs = [include, path.join(include, "torch", "csrc", "api", "include")];
  return { source, root, includeDirs, libDir: lib, cxx11Abi: detectCxx11Abi(lib) };
}

function fromPython() {
  const python = process.env.BACKSPLIT_PYTHON || "python3";
  const script =
    "import json, os, torch\n" +
    "root = os.path.dirname(torch.__file__)\n" +
    "print(json.dumps({'root': root, 'abi': bool(torch._C._GLIBCXX_USE_CXX11_ABI), 'cuda': torch.version.cuda}))";
  let info;
  try {
    const out = execFileSync(python, ["-c", script], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    info = JSON.parse(out.trim().split("\n").pop());
  } catch {
    return null;
  }
  const found = fromFolder(info.root, `python torch (${python})`);
  if (!found) return null;
  return { ...found, cxx11Abi: info.abi };
}

function fromDebian() {
  const header = path.join("/usr/include", TORCH_HEADER);
  if (!existsSync(header)) return null;
  const libDirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"];
  const libDir = libDirs.find((dir) => existsSync(path.join(dir, "libtorch.so")));
  if (!libDir) return null;
  const includeDirs = ["/usr/include", path.join("/usr/include", "torch", "csrc", "api", "include")];
  return { source: "debian libtorch-dev", root: "/usr", includeDirs, libDir, cxx11Abi: true };
}

/** Returns the libtorch to build against, or null with nothing found. */
export function findLibtorch() {
  let found = null;
  if (process.env.LIBTORCH) {
    found = fromFolder(process.env.LIBTORCH, "LIBTORCH");
    if (!found) {
      throw new Error(
        `LIBTORCH=${process.env.LIBTORCH} is not a LibTorch folder (needs include/${TORCH_HEADER} and lib/libtorch.so)`,
      );
    }
  }
  found ??= fromPython() ?? fromDebian();
  if (!found) return null;
  const libs = readdirSync(found.libDir);
  return {
    ...found,
    version: readVersion(found.includeDirs),
    cuda: libs.includes("libtorch_cuda.so"),
  };
}

function exportsSymbol(lib, needle) {
  try {
    const symbols = execFileSync("nm", ["-D", "--defined-only", lib], { encoding: "utf8", maxBuffer: 1 << 30 });
    return symbols.includes(needle);
  } catch {
    return false;
  }
}

function headerDir(dirs, header) {
  return dirs.find((d) => d && existsSync(path.join(d, header))) ?? null;
}

/**
 * Which c10d backends the addon can be built with: the libtorch must export the process group and its
 * headers' dependencies (gloo/*.h, nccl.h) must be found. Each missing piece comes with the reason.
 */
export function findDistributed(torch) {
  const cpuLib = path.join(torch.libDir, "libtorch_cpu.so");
  const glooExported = exportsSymbol(cpuLib, "ProcessGroupGloo");
  const glooHeaders = headerDir([...torch.includeDirs, "/usr/include", "/usr/local/include"], "gloo/algorithm.h");
  const gloo = glooExported && glooHeaders !== null;
  const glooWhy = !glooExported
    ? "this libtorch has no ProcessGroupGloo"
    : glooHeaders === null
      ? "gloo headers not found (Debian: apt-get install libgloo-dev)"
      : null;
  let nccl = false;
  let ncclWhy = "this libtorch has no CUDA";
  let ncclInclude = null;
  if (torch.cuda) {
    const cudaLib = path.join(torch.libDir, "libtorch_cuda.so");
    const nvidiaNccl = path.resolve(torch.root, "..", "nvidia", "nccl", "include");
    ncclInclude = headerDir(
      [
        ...torch.includeDirs,
        process.env.NCCL_INCLUDE_DIR,
        nvidiaNccl,
        process.env.CUDA_HOME && path.join(process.env.CUDA_HOME, "include"),
        "/usr/local/cuda/include",
        "/usr/include",
      ],
      "nccl.h",
    );
    const ncclExported = exportsSymbol(cudaLib, "ProcessGroupNCCL");
    nccl = ncclExported && ncclInclude !== null;
    ncclWhy = !ncclExported
      ? "this libtorch has no ProcessGroupNCCL"
      : ncclInclude === null
        ? "nccl.h not found (set NCCL_INCLUDE_DIR)"
        : null;
  }
  // ProcessGroupNCCL.hpp includes CUDA's runtime headers: pip's nvidia-cuda-runtime wheel or a CUDA toolkit.
  const cudaInclude = nccl
    ? headerDir(
        [
          process.env.CUDA_HOME && path.join(process.env.CUDA_HOME, "include"),
          path.resolve(torch.root, "..", "nvidia", "cuda_runtime", "include"),
          "/usr/local/cuda/include",
          "/usr/include",
        ],
        "cuda_runtime_api.h",
      )
    : null;
  if (nccl && cudaInclude === null) {
    nccl = false;
    ncclWhy = "CUDA runtime headers (cuda_runtime_api.h) not found (set CUDA_HOME)";
  }
  return {
    gloo,
    glooWhy: gloo ? null : glooWhy,
    nccl,
    ncclWhy: nccl ? null : ncclWhy,
    includeDirs: [glooHeaders, ncclInclude, cudaInclude].filter((d) => d && !torch.includeDirs.includes(d)),
  };
}

export const INSTALL_HINT =
  "libtorch was not found. Install one of:\n" +
  "  - Debian/Ubuntu: sudo apt-get install libtorch-dev   (libtorch 1.13, CPU)\n" +
  "  - PyTorch for python3: python3 -m pip install torch   (CPU or CUDA)\n" +
  "  - a LibTorch zip from pytorch.org, then export LIBTORCH=/path/to/libtorch";

if (import.meta.url === `file://${process.argv[1]}`) {
  const found = findLibtorch();
  if (!found) {
    console.error(INSTALL_HINT);
    process.exit(3);
  }
  console.log(JSON.stringify(found, null, 2));
}
