#!/usr/bin/env bash
# Model v3's two device calls (training/README.md §5, "two shards in two calls"), prepared on the
# CPU in one command from a fresh checkout (no GPU needed; ~25 min when the labels cache is empty):
#   1. labels and the two shards .train/packv3-0 / -1 (training/make_pack.sh, MAX_MIB=57,43), unless
#      both are there and pass pack.py --check;
#   2. the initial weights in .train/init: the default model's 8-bit copy and the light model;
#   3. with --empty-models: empties assets/models/*.safetensors (they need not travel; undo with
#      `git checkout -- assets/models/` after the calls);
#   4. checks that each call's upload fits the device's 64 MiB (the tracked tree with the models
#      emptied, untracked files git does not ignore, the carried folders) and prints the two calls.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-/usr/bin/python3}"
export PRNET_CACHE="${PRNET_CACHE:-.train/cache}"
empty=0
for a in "$@"; do
  case "$a" in
    --empty-models) empty=1 ;;
    *) echo "usage: training/prepare_v3.sh [--empty-models]" >&2; exit 2 ;;
  esac
done

models=(assets/models/prnet-default.safetensors assets/models/prnet-light.safetensors)
for m in "${models[@]}"; do
  if [ ! -s "$m" ]; then
    [ -s .train/init/prnet-default.i8.safetensors ] && [ -s .train/init/prnet-light.safetensors ] && break
    echo "prepare_v3: $m is empty and .train/init lacks the copies: run \`git checkout -- assets/models/\` first" >&2
    exit 1
  fi
done

# 1. Labels and shards.
if [ -d .train/packv3-0 ] && [ -d .train/packv3-1 ] && "$PY" training/pack.py --check .train/packv3-0 .train/packv3-1 >/dev/null 2>&1; then
  echo "prepare_v3: .train/packv3-0 and -1 are there and check out"
else
  MAX_MIB=57,43 PACK=.train/packv3 bash training/make_pack.sh
fi

# 2. Initial weights (from the tracked models, before any emptying).
mkdir -p .train/init
if [ -s assets/models/prnet-default.safetensors ]; then
  "$PY" training/safetensors_io.py --quantize-init assets/models/prnet-default.safetensors --out .train/init/prnet-default.i8.safetensors
  cp assets/models/prnet-light.safetensors .train/init/prnet-light.safetensors
fi

# 3. The models need not travel.
if [ "$empty" = 1 ]; then
  for m in "${models[@]}"; do : > "$m"; done
  echo "prepare_v3: emptied ${models[*]} (after the calls: git checkout -- assets/models/)"
fi

# The models are out of the tree when both are empty (now or by an earlier run).
emptied=1
for m in "${models[@]}"; do [ -s "$m" ] && emptied=0; done

# 4. Upload sizes: what travels is the working tree's tracked files, untracked files git does not
# ignore, and the carried folders (64 MiB in all).
tree_bytes() {
  { git ls-files -z; git ls-files -z --others --exclude-standard; } | while IFS= read -r -d '' f; do
    [ -f "$f" ] || continue
    case "$f" in assets/models/*.safetensors) [ "$emptied" = 1 ] || continue ;; esac
    stat -c %s "$f"
  done | awk '{ s += $1 } END { print s + 0 }'
}
dir_bytes() { du -sb "$@" | awk '{ s += $1 } END { print s + 0 }'; }
tree=$(tree_bytes)
smoke=$(( tree + $(dir_bytes .train/packv3-0) ))
long=$(( tree + $(dir_bytes .train/packv3-1 .train/init) ))
limit=$(( 64 * 1024 * 1024 ))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "prepare_v3: the tree without the models $(mib "$tree"); smoke call $(mib "$smoke"), long call $(mib "$long") (limit 64 MiB)"
if [ "$emptied" = 0 ]; then
  echo "prepare_v3: the models are still in the tree: run again with --empty-models just before the calls"
elif [ "$smoke" -gt "$limit" ] || [ "$long" -gt "$limit" ]; then
  echo "prepare_v3: over 64 MiB: untracked files travel too (git status --porcelain), or rebuild smaller shards" >&2
  exit 1
fi
untracked=$(git ls-files --others --exclude-standard | head -5 | paste -sd, -)
[ -z "$untracked" ] || echo "prepare_v3: untracked files that will travel: $untracked"
cat <<'EOF'
The two calls (send the second as soon as the first replies rc 0: the machine is given back after
~30 s idle; no status call between them: the smoke reply's lease says budget_left_s and warm, and if
it is not warm or the budget is under ~640 s, use TOTAL_S = budget - 210 and timeout_s = budget - 180):
  run(command="SMOKE=1 TOTAL_S=190 PARALLEL=1 RT_MIN=0.35 PACK=.train/packv3-0 bash training/run_gpu.sh",
      carry=[".train/packv3-0"], timeout_s=200)
  run(command="PARALLEL=1 PACK=.train/packv3-1 PACK_EXTRA=.train/packv3-0 INIT=.train/init/prnet-default.i8.safetensors RT_INIT=.train/init/prnet-light.safetensors FULL_MIN=8.8 RT_MIN=8.8 LR=1e-4 bash training/run_gpu.sh",
      carry=[".train/packv3-1", ".train/init"], timeout_s=600)
  give_back(); git checkout -- assets/models/; then join, evaluate, replace only a winner (training/README.md §5)
EOF
