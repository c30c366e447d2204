#!/usr/bin/env bash
# From an empty labels cache to a checked training pack, on the CPU (no GPU needed):
#   1. label every photo of ../shared with the teachers (FaceMesh on onnxruntime + 3DDFA_V2):
#      eval, all 20,000 UTKFace chips, misc, and every face (eyes ≥ 30 px apart) of webfaces;
#      resumable, one worker per core (at most 8), cache in $PRNET_CACHE or ~/.cache/prnet-ts;
#   2. build the pack (≤ $MAX_MIB MiB, default 52) in $PACK (default .train/pack); MAX_MIB=57,43
#      builds two shards of those budgets, $PACK-0 and $PACK-1 (model v3's recipe, training/README §5);
#   3. read it back with training/pack.py --check.
# Measured: docs/training-data.md ("One command"). Extra arguments go to the labeller; its --shared
# (the shared data folder) goes to the pack builder too, which reads the photos from there.
set -euo pipefail
cd "$(dirname "$0")/.."
PACK="${PACK:-.train/pack}"
MAX_MIB="${MAX_MIB:-52}"
PY="${PY:-/usr/bin/python3}"
shared=()
sets=(--set all)
prev=
for arg in "$@"; do
  case "$arg" in
    --shared=*) shared=(--shared "${arg#--shared=}") ;;
    --set|--set=*) sets=() ;; # the labeller's own --set instead of all (given twice is an error)
    --out|--out=*) echo "make_pack: the labeller's --out is not for this script (the pack step reads the labels from \$PRNET_CACHE/labels): set PRNET_CACHE instead" >&2; exit 2 ;;
  esac
  [ "$prev" = --shared ] && shared=(--shared "$arg")
  prev=$arg
done
start=$(date +%s)
npx tsx scripts/label.ts ${sets[@]+"${sets[@]}"} "$@"
labelled=$(date +%s)
npx tsx scripts/pack-training.ts --out "$PACK" --max-mib "$MAX_MIB" ${shared[@]+"${shared[@]}"} --verify
packed=$(date +%s)
# MAX_MIB with commas (57,43) writes one shard per budget: $PACK-0, $PACK-1, … (training/README §5).
packs=("$PACK")
if [[ "$MAX_MIB" == *,* ]]; then
  IFS=, read -ra budgets <<< "$MAX_MIB"
  packs=()
  for i in "${!budgets[@]}"; do packs+=("$PACK-$i"); done
fi
"$PY" training/pack.py --check "${packs[@]}"
end=$(date +%s)
echo "make_pack: labels $((labelled - start)) s, pack $((packed - labelled)) s, check $((end - packed)) s, total $((end - start)) s -> ${packs[*]}"
