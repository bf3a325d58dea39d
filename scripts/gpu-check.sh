#!/usr/bin/env bash
# The GPU path in one prepared run (issue #19). On a bare GPU machine where `python3 -c "import torch"`
# works (pip torch 2.x with CUDA) and that received this checkout plus the gpu-data/ folder that
# scripts/gpu-stage.sh wrote (carried: it is ignored by git):
#
#   bash scripts/gpu-check.sh OUTDIR             the GPU run (under 8 minutes on an H200)
#   bash scripts/gpu-check.sh --dry-run OUTDIR   the same sequence on the CPU, tiny sizes, no CUDA steps
#
# Steps: unpack gpu-data/runtime.tar.xz (node, N-API headers, dist/, the node_modules the run needs),
# machine.json, build the addon against python's torch (--force), the CUDA tests, then the benchmarks
# with --device cuda: engine (ours vs the PyTorch twin, AMP; default net and the 3d_fullres widths at
# 128³), train (BraTS, 128³, batch 2, widths 32…320, AMP), predict (a BraTS volume, mirroring, peak GPU
# memory), ddp (an NCCL process group at world size 1 against none: the overhead goal ≤ 3 %),
# deterministic (train's cost with --deterministic, and two such runs compared by weight digest; its
# line goes to train.jsonl), brats-et (#18's enhancing-tumour benchmark, full preset: binary and the
# sub-regions arm, one seed, a short budget; its lines go to brats.jsonl).
# OUTDIR gets at most 8 files (what the device tool brings back): machine.json, log.txt, steps.jsonl
# (one line per step: rc and seconds) and engine/train/predict/ddp/brats.jsonl (the benchmarks' JSON lines).
# Every step has a timeout and the whole run a budget (GPU_CHECK_BUDGET_S, default 470 s); a step that
# fails is recorded and the run goes on. Exit status: 0 when every step passed, 1 otherwise.
# GPU_CHECK_STEPS="build-native engine-info tests twin-3d …" runs only the steps named (default: every step but
# the twin ones). twin-3d: `bench -- twin-train` (#14) on BraTS 3D with --device cuda, seeds
# GPU_CHECK_TWIN_SEEDS (1,2,3,4,5) × folds 0,1, GPU_CHECK_TWIN_JOBS (10) trainings at once, until 25 s before
# the budget ends (finished pairs only enter its summary); twin-3d-long: the same at GPU_CHECK_TWIN_LONG_EPOCHS
# (80) epochs, seeds GPU_CHECK_TWIN_LONG_SEEDS (1,2,3). Their lines go to twin.jsonl, their per-run logs to
# twin-logs.tar.gz.
set -uo pipefail

dry=false
if [ "${1:-}" = "--dry-run" ]; then dry=true; shift; fi
if [ $# -ne 1 ]; then
  echo "usage: bash scripts/gpu-check.sh [--dry-run] OUTDIR" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$(realpath -m "$1")"
staged="$(realpath -m "${GPU_DATA:-$root/gpu-data}")"
work="${GPU_CHECK_WORK:-${TMPDIR:-/tmp}/backsplit-gpu-check}"
if $dry; then budget="${GPU_CHECK_BUDGET_S:-480}"; else budget="${GPU_CHECK_BUDGET_S:-470}"; fi
mkdir -p "$out"
rm -f "$out"/{machine.json,log.txt,steps.jsonl,engine.jsonl,train.jsonl,predict.jsonl,ddp.jsonl,brats.jsonl,twin.jsonl,twin-logs.tar.gz}
rm -rf "$work"
mkdir -p "$work"
exec > >(tee -a "$out/log.txt") 2>&1
tee_pid=$!
started=$(date +%s)
failures=0
say() { echo "[gpu-check $(($(date +%s) - started))s] $*"; }
say "root $root, staged $staged, out $out, dry-run $dry, budget ${budget}s"

# --- node, dist/, node_modules: from this machine or the staged runtime -------------------------------
if [ -f "$staged/runtime.tar.xz" ] && { [ ! -f "$staged/runtime/.unpacked" ] || [ "$staged/runtime.tar.xz" -nt "$staged/runtime/.unpacked" ]; }; then
  say "unpacking $staged/runtime.tar.xz"
  rm -rf "$staged/runtime"
  # Without xz on the machine, python's tarfile (lzma is in its standard library) unpacks it.
  if ! tar -C "$staged" -xJf "$staged/runtime.tar.xz" 2>/dev/null; then
    rm -rf "$staged/runtime"
    "${BACKSPLIT_PYTHON:-python3}" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
      "$staged/runtime.tar.xz" "$staged" || { say "cannot unpack $staged/runtime.tar.xz"; exit 2; }
  fi
  touch "$staged/runtime/.unpacked"
fi
node_ok() { "$1" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' >/dev/null 2>&1; }
NODE=""
if command -v node >/dev/null && node_ok node; then NODE="$(command -v node)"; fi
if [ -z "$NODE" ] && [ -x "$staged/runtime/node/bin/node" ] && node_ok "$staged/runtime/node/bin/node"; then
  NODE="$staged/runtime/node/bin/node"
fi
if [ -z "$NODE" ]; then
  say "no node >= 20 on PATH and none staged: run scripts/gpu-stage.sh and carry gpu-data"
  exit 2
fi
# The staged node first on PATH (npm-less: children are started with process.execPath anyway).
case "$NODE" in "$staged"/*) export PATH="$(dirname "$NODE"):$PATH" ;; esac
if [ -z "${NODE_INCLUDE_DIR:-}" ] && [ -f "$staged/runtime/node/include/node/node_api.h" ] &&
  [ ! -f "$(dirname "$NODE")/../include/node/node_api.h" ]; then
  export NODE_INCLUDE_DIR="$staged/runtime/node/include/node"
fi
say "node $NODE ($("$NODE" --version))"

if ! "$NODE" -e 'require.resolve("node-addon-api/package.json")' >/dev/null 2>&1; then
  if [ -d "$staged/runtime/node_modules" ] && { [ -L node_modules ] || [ ! -e node_modules ]; }; then
    say "node_modules -> $staged/runtime/node_modules (the staged subset)"
    rm -f node_modules
    ln -s "$staged/runtime/node_modules" node_modules
  else
    say "node_modules lacks node-addon-api and no staged subset can replace it"
    exit 2
  fi
fi

sources_hash="$(bash scripts/gpu-sources-hash.sh)"
if [ -f node_modules/typescript/bin/tsc ]; then
  say "compiling TypeScript"
  "$NODE" node_modules/typescript/bin/tsc -p tsconfig.json && "$NODE" node_modules/typescript/bin/tsc -p tsconfig.web.json || exit 2
elif [ -d "$staged/runtime/dist" ]; then
  staged_hash="$(sed -n 's/.*"sourcesHash": "\([0-9a-f]*\)".*/\1/p' "$staged/STAGED.json" 2>/dev/null)"
  if [ "$staged_hash" != "$sources_hash" ] && [ "${GPU_CHECK_STALE_OK:-0}" != 1 ]; then
    say "the staged dist/ was compiled from other sources ($staged_hash, here $sources_hash): rerun scripts/gpu-stage.sh (or GPU_CHECK_STALE_OK=1)"
    exit 2
  fi
  say "dist/ from the staged runtime (sources $sources_hash)"
  rm -rf dist
  cp -r "$staged/runtime/dist" dist
elif [ ! -d dist ]; then
  say "no dist/, no TypeScript compiler and no staged runtime"
  exit 2
fi

# --- python's torch: which libraries the addon will load --------------------------------------------
# The addon build (scripts/libtorch.mjs) and the PyTorch twins use BACKSPLIT_PYTHON / BACKSPLIT_BENCH_PYTHON
# where set, else python3: the same python as here.
PY="${BACKSPLIT_PYTHON:-python3}"
if ! $dry; then
  # torch's own lib folder and the pip CUDA libraries (nvidia/*/lib) that `import torch` preloads: the
  # addon links libtorch_cuda with an rpath to torch/lib only, and cuDNN opens its sub-libraries by name.
  found="$("$PY" - <<'PYLIBS'
import glob, os, torch
lib = os.path.join(os.path.dirname(torch.__file__), "lib")
site = os.path.dirname(os.path.dirname(torch.__file__))
dirs = [lib] + sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib"))) + sorted(glob.glob(os.path.join(site, "nvidia", "*", "*", "lib")))
print(":".join(d for d in dirs if os.path.isdir(d)))
# A folder whose include/ has cuda_runtime_api.h (c10d's NCCL headers need it): the pip CUDA runtime's.
homes = [os.path.dirname(os.path.dirname(h)) for h in sorted(glob.glob(os.path.join(site, "nvidia", "**", "include", "cuda_runtime_api.h"), recursive=True))]
print(homes[0] if homes else "")
PYLIBS
)"
  libs="$(echo "$found" | sed -n 1p)"
  if [ -z "${CUDA_HOME:-}" ] && [ ! -f /usr/local/cuda/include/cuda_runtime_api.h ] && [ -n "$(echo "$found" | sed -n 2p)" ]; then
    export CUDA_HOME="$(echo "$found" | sed -n 2p)"
    say "CUDA_HOME=$CUDA_HOME (CUDA headers from pip)"
  fi
  export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export BACKSPLIT_BENCH_PYTHON="${BACKSPLIT_BENCH_PYTHON:-$(command -v "$PY")}"
  say "LD_LIBRARY_PATH += $(echo "$libs" | tr ':' '\n' | wc -l) folders from python's torch"
fi

# --- machine.json --------------------------------------------------------------------------------------
commit="$(git rev-parse HEAD 2>/dev/null || cat COMMIT 2>/dev/null || cat "$staged/COMMIT" 2>/dev/null || echo unknown)"
DRY=$dry COMMIT_ID="$commit" SOURCES="$sources_hash" NODE_VERSION="$("$NODE" --version)" STAGED="$staged" \
  "$PY" - >"$out/machine.json" <<'MACHINE'
import json, os, platform, subprocess
def smi(query):
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20)
        return [l.strip() for l in out.stdout.strip().splitlines()] if out.returncode == 0 else None
    except Exception:
        return None
info = {"dryRun": os.environ["DRY"] == "true", "commit": os.environ["COMMIT_ID"], "sourcesHash": os.environ["SOURCES"],
        "node": os.environ["NODE_VERSION"], "python": platform.python_version(), "host": platform.node(),
        "cpus": os.cpu_count(), "kernel": platform.release()}
names, drivers, mems = smi("name"), smi("driver_version"), smi("memory.total")
info["gpus"] = names
info["driver"] = drivers[0] if drivers else None
info["gpuMemoryMiB"] = [int(m) for m in mems] if mems else None
try:
    import torch
    info["torch"] = torch.__version__
    info["torchCuda"] = torch.version.cuda
    info["cudnn"] = torch.backends.cudnn.version()
    info["torchSeesCuda"] = torch.cuda.is_available()
    info["cxx11Abi"] = bool(torch._C._GLIBCXX_USE_CXX11_ABI)
except Exception as e:
    info["torch"] = f"unavailable: {e}"
try:
    info["staged"] = json.load(open(os.path.join(os.environ["STAGED"], "STAGED.json")))
except Exception:
    info["staged"] = None
print(json.dumps(info, indent=2))
MACHINE
cat "$out/machine.json"

# --- steps ---------------------------------------------------------------------------------------------
# step NAME TIMEOUT_S [JSONL] -- CMD...: runs CMD under a timeout clipped to what is left of the budget;
# its stdout's JSON lines go to OUTDIR/JSONL; rc and seconds to steps.jsonl.
selected() { [ -z "${GPU_CHECK_STEPS:-}" ] && [[ "$1" != twin-* ]] || [[ " ${GPU_CHECK_STEPS:-} " == *" $1 "* ]]; }
left_s() { echo $((budget - ($(date +%s) - started))); }
step() {
  local name="$1" limit="$2" jsonl="$3"
  shift 4
  selected "$name" || return 0
  local left
  left=$(left_s)
  if [ "$left" -lt 20 ]; then
    say "SKIP $name: the budget is spent"
    echo "{\"step\":\"$name\",\"rc\":null,\"skipped\":\"budget\"}" >>"$out/steps.jsonl"
    failures=$((failures + 1))
    return
  fi
  [ "$limit" -le "$left" ] || limit=$left
  say "RUN $name (timeout ${limit}s): $*"
  local t0 rc
  t0=$(date +%s%N)
  timeout -k 10 "$limit" "$@" >"$work/$name.stdout"
  rc=$?
  cat "$work/$name.stdout"
  [ "$jsonl" = "-" ] || grep '^{' "$work/$name.stdout" >>"$out/$jsonl"
  local secs
  local ms=$((($(date +%s%N) - t0) / 1000000))
  secs=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
  echo "{\"step\":\"$name\",\"rc\":$rc,\"seconds\":$secs,\"timeoutS\":$limit}" >>"$out/steps.jsonl"
  if [ "$rc" -eq 0 ]; then say "OK $name (${secs}s)"; else say "FAIL $name rc=$rc (${secs}s)"; failures=$((failures + 1)); fi
}
bench=("$NODE" scripts/run-bench.mjs)
data="$staged/data"
brats_case="$data/brats2015-subset/brats_2013_pat0003_1/Flair_subtrMeanDivStd.nii.gz"
if [ ! -d "$data/brats2015-subset" ]; then
  say "no staged BraTS data in $data: train, predict and brats will fail (run scripts/gpu-stage.sh)"
fi
export BACKSPLIT_SHARED_DATA="$data"
threads=$(nproc)
[ "$threads" -le 16 ] || threads=16

if $dry; then
  # The addon built here stays as it is (a rebuild takes minutes on 2 cores): only the libtorch search runs.
  if [ -f build/native/backsplit_engine.node ]; then
    step build-native 60 - -- "$NODE" scripts/libtorch.mjs
  else
    step build-native 600 - -- "$NODE" scripts/build-native.mjs
  fi
  step tests 240 - -- "$NODE" scripts/run-tests.mjs engine/cuda engine/optim
  step engine 120 engine.jsonl -- "${bench[@]}" engine --device cpu --threads 2 --size 16 --rounds 1 --steps 1
  step engine-3d 120 engine.jsonl -- "${bench[@]}" engine --device cpu --threads 2 --size 32 --batch 1 --features 4,8,16 --classes 2 --rounds 1 --steps 1
  step train 180 train.jsonl -- "${bench[@]}" train --device cpu --threads 2 --dataset brats --data "$data/brats2015-subset" \
    --patch 32x32x32 --batch 2 --features 4,8,16 --iterations 2
  step predict 180 predict.jsonl -- "${bench[@]}" predict --device cpu --threads 2 --file "$brats_case" --patch 64x64x64 \
    --features 4,8,16 --rounds 1
  step ddp 120 ddp.jsonl -- "${bench[@]}" ddp --device cpu --steps 3
  step deterministic 180 train.jsonl -- "${bench[@]}" train --device cpu --threads 2 --dataset brats --data "$data/brats2015-subset" \
    --patch 32x32x32 --batch 2 --features 4,8,16 --iterations 2 --deterministic
  step brats-et 300 brats.jsonl -- "${bench[@]}" brats-et --preset full --arms subregions --device cpu --threads 2 --seeds 1 \
    --epochs 1 --iterations 2 --patch 64x64x64 --features 4,8,16 --tile-step 1 --out "$work/brats-et"
else
  step build-native 150 - -- "$NODE" scripts/build-native.mjs --force
  step engine-info 60 - -- "$NODE" --input-type=module -e '
    const e = await import("./dist/src/engine/index.js");
    const info = e.engineInfo();
    console.log(JSON.stringify(info));
    process.exit(info.cudaAvailable ? 0 : 1);'
  step tests 120 - -- "$NODE" scripts/run-tests.mjs engine/cuda engine/optim engine/tensor engine/worker
  # The CUDA tests skip themselves without a device: on the GPU run a skip is a failure.
  if selected tests; then
    skipped="$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$work/tests.stdout" 2>/dev/null | tail -1)"
    echo "{\"step\":\"tests-skipped\",\"rc\":$([ "${skipped:-1}" = 0 ] && echo 0 || echo 1),\"skipped\":${skipped:-null}}" >>"$out/steps.jsonl"
    if [ "${skipped:-1}" != 0 ]; then say "FAIL tests-skipped: ${skipped:-?} test(s) skipped on the GPU run"; failures=$((failures + 1)); fi
  fi
  step engine 90 engine.jsonl -- "${bench[@]}" engine --amp --device cuda --threads "$threads" --size 128
  step engine-3d 90 engine.jsonl -- "${bench[@]}" engine --amp --device cuda --threads "$threads" --size 128 --batch 2 \
    --features 32,64,128,256,320 --rounds 3 --steps 5
  step train 120 train.jsonl -- "${bench[@]}" train --device cuda --amp --threads "$threads" --dataset brats \
    --data "$data/brats2015-subset" --patch 128x128x128 --batch 2 --features 32,64,128,256,320 --iterations 25
  step predict 120 predict.jsonl -- "${bench[@]}" predict --device cuda --threads "$threads" --file "$brats_case" --mirror \
    --patch 128x128x128 --rounds 2
  step ddp 45 ddp.jsonl -- "${bench[@]}" ddp --device cuda --steps 8
  # #20: the cost of --deterministic, and whether two deterministic runs end with the same weights.
  step deterministic 90 train.jsonl -- "${bench[@]}" train --device cuda --amp --threads "$threads" --dataset brats \
    --data "$data/brats2015-subset" --patch 96x96x96 --batch 2 --features 32,64,128,256 --iterations 10 --deterministic
  step brats-et 240 brats.jsonl -- "${bench[@]}" brats-et --preset full --arms subregions --device cuda --threads "$threads" \
    --seeds 1 --epochs "${GPU_CHECK_BRATS_EPOCHS:-4}" --iterations "${GPU_CHECK_BRATS_ITERATIONS:-40}" --out "$work/brats-et"
fi

# #14: our trainer and the PyTorch twin on BraTS 3D, many seeds at once on the one GPU (time-boxed: the
# twin bench stops starting trainings 25 s before the budget ends and summarises the finished pairs).
twin_step() {
  local name="$1" seeds="$2" epochs="$3"
  selected "$name" || return 0
  local deadline=$(($(left_s) - 25))
  if [ "$deadline" -lt 60 ]; then say "SKIP $name: $((deadline + 25)) s of the budget left"; return 0; fi
  if $dry; then
    step "$name" "$((deadline + 20))" twin.jsonl -- "${bench[@]}" twin-train --data brats --config 3d --device cpu \
      --threads 1 --jobs 2 --seeds 1 --folds 1 --epochs 2 --iterations 2 --patch 32x32x32 --features 4,8 \
      --deadline "$deadline" --out "$work/$name"
  else
    step "$name" "$((deadline + 20))" twin.jsonl -- "${bench[@]}" twin-train --data brats --config 3d --device cuda \
      --threads 1 --jobs "${GPU_CHECK_TWIN_JOBS:-10}" --seeds "$seeds" --folds 0,1 --epochs "$epochs" \
      --deadline "$deadline" --out "$work/$name"
  fi
}
twin_step twin-3d "${GPU_CHECK_TWIN_SEEDS:-1,2,3,4,5}" 20
twin_step twin-3d-long "${GPU_CHECK_TWIN_LONG_SEEDS:-1,2,3}" "${GPU_CHECK_TWIN_LONG_EPOCHS:-80}"
if ls -d "$work"/twin-3d*/logs >/dev/null 2>&1; then
  tar -C "$work" -czf "$out/twin-logs.tar.gz" $(cd "$work" && ls -d twin-3d*/logs twin-3d*/rows 2>/dev/null)
fi

say "done: $failures step(s) failed; results in $out"
ls -la "$out"
# Let tee finish writing log.txt before the command returns (the device tool collects OUTDIR then).
exec >&- 2>&-
wait "$tee_pid" 2>/dev/null
[ "$failures" -eq 0 ]
