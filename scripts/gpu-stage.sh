#!/usr/bin/env bash
# Stages what scripts/gpu-check.sh needs on a bare GPU machine that receives only this checkout
# (at most 64 MiB all told, no registry, no ../shared): run it HERE, then carry the folder it writes.
#
#   bash scripts/gpu-stage.sh [DIR]        DIR defaults to gpu-data (ignored by git)
#
# DIR/runtime.tar.xz  node (this machine's binary, x86-64) and the four N-API headers the addon build
#                     needs (node/include/node), the compiled TypeScript (dist/), and the node_modules
#                     the GPU run reaches: node-addon-api (headers, build only) and vega + vega-lite with
#                     their dependencies (the experiment report's plots, bench brats). Nothing else is
#                     needed at run time: the engine, io, train and predict code import only node: modules.
# DIR/data/brats2015-subset/   the 4 BraTS cases cropped to brain + 2 voxels, int16 NIfTI (same names).
# DIR/STAGED.json     commit, whether the tree was dirty, a hash of the sources dist/ was built from,
#                     sizes; gpu-check.sh compares the hash with the checkout it runs in.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dir="$(realpath -m "${1:-gpu-data}")"
shared="$(realpath -m "${BACKSPLIT_SHARED_DATA:-$root/../shared/data}")"
python="${BACKSPLIT_PYTHON:-/usr/bin/python3}"
limit_mib="${GPU_STAGE_LIMIT_MIB:-60}"
started=$(date +%s)

[ -d "$shared/brats2015-subset" ] || { echo "gpu-stage: $shared/brats2015-subset is missing (set BACKSPLIT_SHARED_DATA)" >&2; exit 2; }
node_bin="$(command -v node)"
node_inc=""
for d in "${NODE_INCLUDE_DIR:-}" "$(dirname "$node_bin")/../include/node" /usr/include/node; do
  if [ -n "$d" ] && [ -f "$d/node_api.h" ]; then node_inc="$d"; break; fi
done
[ -n "$node_inc" ] || { echo "gpu-stage: node_api.h not found (set NODE_INCLUDE_DIR)" >&2; exit 2; }

if [ "${GPU_STAGE_SKIP_BUILD:-0}" != 1 ]; then
  echo "[gpu-stage] compiling TypeScript" >&2
  npm run -s build:ts
fi
[ -d dist/bench ] || { echo "gpu-stage: no dist/ (npm run build:ts)" >&2; exit 2; }

rm -rf "$dir"
mkdir -p "$dir/data"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rt="$tmp/runtime"
mkdir -p "$rt/node/bin" "$rt/node/include/node" "$rt/node_modules"
cp "$(readlink -f "$node_bin")" "$rt/node/bin/node"
for h in node_api.h node_api_types.h js_native_api.h js_native_api_types.h; do cp "$node_inc/$h" "$rt/node/include/node/"; done
cp -r dist "$rt/dist"
# The node_modules closure: the packages named and everything they depend on (read from package.json).
"$node_bin" --input-type=module - "$root/node_modules" node-addon-api vega vega-lite >"$tmp/modules.txt" <<'JS'
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
const [nm, ...names] = process.argv.slice(2);
const seen = new Set();
function add(name) {
  if (seen.has(name)) return;
  const dir = path.join(nm, name);
  if (!existsSync(path.join(dir, "package.json"))) throw new Error(`${name} is not installed in ${nm}`);
  seen.add(name);
  const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  for (const d of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) add(d);
}
for (const n of names) add(n);
console.log([...seen].sort().join("\n"));
JS
while read -r m; do
  mkdir -p "$rt/node_modules/$(dirname "$m")"
  cp -rL "$root/node_modules/$m" "$rt/node_modules/$m"
done <"$tmp/modules.txt"
find "$rt/node_modules" -name '*.map' -delete
echo "[gpu-stage] packing node, dist and $(wc -l <"$tmp/modules.txt") packages" >&2
tar -C "$tmp" -cf - runtime | xz -T0 -6 >"$dir/runtime.tar.xz"

echo "[gpu-stage] cropping the BraTS subset" >&2
"$python" scripts/gpu-stage-brats.py "$shared/brats2015-subset" "$dir/data/brats2015-subset"

sources_hash="$(bash scripts/gpu-sources-hash.sh)"
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
dirty=false
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || dirty=true
total=$(du -sb "$dir" | cut -f1)
cat >"$dir/STAGED.json" <<JSON
{
  "commit": "$commit",
  "dirty": $dirty,
  "sourcesHash": "$sources_hash",
  "node": "$("$node_bin" --version)",
  "modules": $(wc -l <"$tmp/modules.txt"),
  "runtimeBytes": $(stat -c %s "$dir/runtime.tar.xz"),
  "dataBytes": $(du -sb "$dir/data" | cut -f1),
  "totalBytes": $total,
  "stagedAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
JSON
echo "$commit" >"$dir/COMMIT"
cat "$dir/STAGED.json"
mib=$((total / 1048576))
echo "[gpu-stage] $dir: $mib MiB in $(($(date +%s) - started)) s (limit $limit_mib MiB)" >&2
if [ "$mib" -ge "$limit_mib" ]; then
  echo "gpu-stage: $dir is $mib MiB, over the $limit_mib MiB that may travel with the checkout" >&2
  exit 1
fi
