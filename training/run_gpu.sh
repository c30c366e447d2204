#!/usr/bin/env bash
# The one prepared GPU call (see training/README.md): trains the full model (width 16, input 256)
# for $FULL_MIN minutes, then (only with LIGHT_MIN > 0) the former resfcn light model (width 8,
# input 128) for $LIGHT_MIN minutes, then (RT_MIN > 0) the real-time network, which is the bundled
# light model since stop 18 (join rt/ into assets/models/prnet-light.safetensors), and leaves in $OUT:
#   full/model.safetensors.part0, .part1, full/model.safetensors.sha256
#   light/model.safetensors.part0, light/model.safetensors.sha256 (only with LIGHT_MIN > 0)
#   rt/model.safetensors.part0, rt/model.safetensors.sha256 (only with RT_MIN > 0: the real-time
#     'mobile' network of training/mobile.py, width $RT_WIDTH, input $RT_INPUT)
#   logs.tar.gz (train-log.csv + summary.json of every run)
#   run.log (everything the call printed: the reply keeps only its last 12,000 characters)
# 7 files (the call returns at most 8, 16 MiB each). The whole script stays under $TOTAL_S seconds
# (default 570; the command limit is 600): each run gets a hard deadline, and the light run is
# shortened if the full one ran late. SMOKE=1: ~20 s of training per model, same code path
# (checkpoint, export, evaluation), to validate everything before the long run.
#
#   run: bash training/run_gpu.sh      (carry: .train/pack)
# Environment: OUT (required), PACK (.train/pack; several packs trained as one: comma-separated, each
#   required), PACK_EXTRA (comma-separated packs used when present, complete and sharing no sample
#   with the others, else skipped with a warning: the shards that an earlier call left on a warm
#   machine, training/README.md §5), FULL_MIN (6.5), LIGHT_MIN (0: minutes for the
#   former resfcn light model, kept for comparison only), SMOKE (0), INIT (weights the full model starts from, e.g. an 8-bit copy of the shipped
#   model: see training/README.md; default none), LIGHT_INIT (the same for the light model);
#   FULL_MIN=0 skips the full model, LR (2e-4), YAW_MAX (90), PITCH_MAX (40),
#   ROT_PROB (0.35: large-pose synthesis), ROT_MODE (warp: the whole crop re-rendered; splat: the
#   older face-over-hole synthesis), JITTER (runtime: crop scale/shift as the runtime's detector crop
#   varies, training/crop_jitter.json; uniform: 0.9-1.2 / +-10 %), SMOOTH_WEIGHT (1e-4: the surface
#   term, normals against the target's), EDGE_WEIGHT (0: its edge-vector part), TARGET_SMOOTH (0.7: targets on the
#   canonical face smoothed in UV by this sigma, px; see training/README.md §4), BLACK_PROB (0.08: black fill outside the photo, as the
#   runtime crop does at image borders), BATCH (64), TOTAL_S (570), PY (python3),
#   DEVICE (cuda; `DEVICE=cpu` is a dry run of this script's logic on a CPU machine).
#   RT_MIN (0: minutes for the real-time network after the light model; 0 skips it), RT_WIDTH (16),
#   RT_INPUT (128), RT_INIT (weights it starts from: the bundled light model, copied to .train/init
#   before the model files are emptied), RT_LR (its own learning rate: 3e-4 with RT_INIT, continuing;
#   1e-3 without, a small network from scratch; LR is the others'). Real-time only: FULL_MIN=0 RT_MIN=8.
#   PARALLEL (0; 1: the real-time network trains at the same time as the full and light models, as
#   a second process on the same GPU, its lines prefixed "[rt] "; both then have the whole call,
#   the real-time one ending RT_LEAD_S (45) s earlier so that the two final evaluations do not meet).
#   EVAL_MAX (2000: held-out photos evaluated), WORK (/tmp/prnet-train: checkpoints, logs).
set -uo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
: "${OUT:?OUT must name the folder whose files come back}"
PACK=${PACK:-.train/pack}
PACK_EXTRA=${PACK_EXTRA:-}
PY=${PY:-python3}
SMOKE=${SMOKE:-0}
ROT_PROB=${ROT_PROB:-0.35}
ROT_MODE=${ROT_MODE:-warp}
JITTER=${JITTER:-runtime}
SMOOTH_WEIGHT=${SMOOTH_WEIGHT:-1e-4}
EDGE_WEIGHT=${EDGE_WEIGHT:-0}
TARGET_SMOOTH=${TARGET_SMOOTH:-0.7}
BLACK_PROB=${BLACK_PROB:-0.08}
BATCH=${BATCH:-64}
INIT=${INIT:-}
LIGHT_INIT=${LIGHT_INIT:-}
RT_MIN=${RT_MIN:-0}
RT_WIDTH=${RT_WIDTH:-16}
RT_INPUT=${RT_INPUT:-128}
RT_INIT=${RT_INIT:-}
if [ -n "$RT_INIT" ]; then RT_LR=${RT_LR:-3e-4}; else RT_LR=${RT_LR:-1e-3}; fi
PARALLEL=${PARALLEL:-0}
LR=${LR:-2e-4}
YAW_MAX=${YAW_MAX:-90}
PITCH_MAX=${PITCH_MAX:-40}
TOTAL_S=${TOTAL_S:-570}  # under the device's 600 s with the last logs packed and printed
DEVICE=${DEVICE:-cuda}
EVAL_MAX=${EVAL_MAX:-2000}
if [ "$SMOKE" = "1" ]; then
  FULL_MIN=${FULL_MIN:-0.35}; LIGHT_MIN=${LIGHT_MIN:-0}; CKPT_MIN=0.2; LOG_EVERY=${LOG_EVERY:-25}
else
  # a progress line every 250 steps (~10 s): the reply keeps only the last 12,000 characters
  FULL_MIN=${FULL_MIN:-6.5}; LIGHT_MIN=${LIGHT_MIN:-0}; CKPT_MIN=2; LOG_EVERY=${LOG_EVERY:-250}
fi
WORK=${WORK:-/tmp/prnet-train}
mkdir -p "$OUT" "$WORK"
# Everything this call prints also goes to $OUT/run.log: the reply keeps only the last 12,000
# characters, which the progress lines would fill, and the first lines say which packs and
# weights the call trained on.
exec > >(tee "$OUT/run.log") 2>&1
TEE_PID=$!
# At exit, tee gets its end of input and finishes writing (the last lines list what came back).
trap 'exec >&- 2>&-; wait "$TEE_PID" 2>/dev/null' EXIT
# A warm machine keeps /tmp between calls: no summary, log or exit code of an earlier call (the
# smoke run's) may be read as this one's.
rm -rf "$WORK/full" "$WORK/light" "$WORK/rt" "$WORK/rt.rc"
echo "== prnet-ts GPU training $(date -u +%FT%TZ): PACK=$PACK PACK_EXTRA=${PACK_EXTRA:-none} SMOKE=$SMOKE FULL_MIN=$FULL_MIN LIGHT_MIN=$LIGHT_MIN RT_MIN=$RT_MIN ($RT_WIDTH/$RT_INPUT) ROT_PROB=$ROT_PROB ROT_MODE=$ROT_MODE JITTER=$JITTER SMOOTH_WEIGHT=$SMOOTH_WEIGHT EDGE_WEIGHT=$EDGE_WEIGHT TARGET_SMOOTH=$TARGET_SMOOTH BLACK_PROB=$BLACK_PROB BATCH=$BATCH INIT=${INIT:-none} LR=$LR RT_LR=$RT_LR YAW_MAX=$YAW_MAX PITCH_MAX=$PITCH_MAX"

# -- fail fast: GPU, PyTorch, data (seconds) --------------------------------------------------
if [ "$DEVICE" != "cuda" ]; then
  echo "(DEVICE=$DEVICE: a dry run without the GPU checks)"
elif ! nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv,noheader; then
  echo "error: nvidia-smi failed: no GPU on this machine"; exit 3
fi
if [ "$DEVICE" = "cuda" ] && ! $PY -c "import torch, numpy; assert torch.cuda.is_available(), 'torch.cuda.is_available() is False'; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0))"; then
  echo "error: $PY has no working PyTorch with CUDA"; exit 3
fi
PACK_FILES="meta.json images.bin images.idx coeffs.f16 crops.f32 flags.u8 weights.u8"
pack_complete() { local f; for f in $PACK_FILES; do [ -s "$1/$f" ] || { echo "$1/$f"; return 1; }; done; }
trim() { local x="$1"; x="${x#"${x%%[![:space:]]*}"}"; printf '%s' "${x%"${x##*[![:space:]]}"}"; }
PACKS=()
IFS=, read -ra _req <<< "$PACK"
for p in "${_req[@]}"; do
  p=$(trim "$p"); [ -n "$p" ] || continue
  if ! miss=$(pack_complete "$p"); then echo "error: pack file $miss missing or empty (carry the pack: carry [\"$p\"])"; exit 2; fi
  PACKS+=("$p")
done
if [ ${#PACKS[@]} -eq 0 ]; then echo "error: PACK names no pack"; exit 2; fi
IFS=, read -ra _extra <<< "$PACK_EXTRA"
for p in "${_extra[@]}"; do
  p=$(trim "$p"); [ -n "$p" ] || continue
  if ! miss=$(pack_complete "$p"); then
    echo "WARNING: extra pack $p is not here ($miss missing: the machine was released since the call that carried it?); training without it"
  elif ! why=$($PY training/pack.py --disjoint --read "${PACKS[@]}" "$p" 2>&1); then
    echo "WARNING: extra pack $p cannot train with the others (${why##*error: }); training without it"
  else PACKS+=("$p"); echo "extra pack $p: present, trained with the others ($why)"; fi
done
if [ ! -s assets/layout.safetensors ]; then echo "error: assets/layout.safetensors missing"; exit 2; fi
for f in "$INIT" "$LIGHT_INIT" "$RT_INIT"; do
  if [ -n "$f" ] && [ ! -s "$f" ]; then echo "error: init weights $f missing or empty (carry its folder)"; exit 2; fi
done
du -sh "${PACKS[@]}" | sed 's/^/pack size: /'
PACK_ARG=$(IFS=,; echo "${PACKS[*]}")

minutes_left() {  # minutes of training that fit before $1 seconds after START, minus $2 seconds of overhead
  $PY -c "import sys,time; print(max(0.05, min(float(sys.argv[3]), (float(sys.argv[1]) - (time.time() - float(sys.argv[4])) - float(sys.argv[2])) / 60)))" "$1" "$2" "$3" "$START"
}

pack_logs() {  # a temporary name per process: with PARALLEL=1 two runs pack at once
  tar czf "$OUT/logs.tar.gz.tmp$BASHPID" -C "$WORK" $(cd "$WORK" && ls -d full/train-log.csv full/summary.json light/train-log.csv light/summary.json rt/train-log.csv rt/summary.json 2>/dev/null) 2>/dev/null \
    && mv "$OUT/logs.tar.gz.tmp$BASHPID" "$OUT/logs.tar.gz"
}

# The summary of each run (steps, img/s, sha256, held-out scores) and what is under $OUT.
results() {
echo "== results"
for m in full light rt; do
  [ -f "$WORK/$m/summary.json" ] && $PY -c "
import json, sys
s = json.load(open(sys.argv[1]))
h = s.get('heldout', {})
print(f\"{sys.argv[2]}: {s['steps']} steps, {s['samples']} samples, {s['img_per_s']} img/s, {s['trained_s']} s; sha256 {s['export']['sha256']}\")
for fill, e in h.items():
    print(f\"  held-out {e['count']} ({fill}): 68-pt 2D {e['kpt2d']:.2f} px, 3D {e['kpt3d']:.2f} px, NME {e['nme2d']:.2f} %, dense 2D {e['dense2d']:.2f} px, 3D {e['dense3d']:.2f} px, folds {e.get('folds', float('nan')):.2f} %\")
" "$WORK/$m/summary.json" "$m"
done
ls -la "$OUT" "$OUT"/full "$OUT"/light "$OUT"/rt 2>/dev/null
}

common=(--pack "$PACK_ARG" --device "$DEVICE" --eval-max "$EVAL_MAX" --batch "$BATCH" --rot-prob "$ROT_PROB" --black-prob "$BLACK_PROB" --ckpt-minutes "$CKPT_MIN"
        --lr "$LR" --yaw-max "$YAW_MAX" --pitch-max "$PITCH_MAX"
        --rot-mode "$ROT_MODE" --jitter "$JITTER" --smooth-weight "$SMOOTH_WEIGHT" --edge-weight "$EDGE_WEIGHT" --target-smooth "$TARGET_SMOOTH"
        --log-every "$LOG_EVERY")
# (the model card's source and terms are written by train.py from the pack: the sets it holds)
RC=0

# train_model DIR WIDTH INPUT MINUTES DEADLINE GRACE_S INIT NAME DESCRIPTION [ARCH [LR]]: one
# train.py run under a hard deadline (plus GRACE_S for its own export), its logs packed; sets rc to
# its exit status.
train_model() {
  local dir=$1 width=$2 input=$3 minutes=$4 deadline=$5 grace=$6 init=$7 name=$8 description=$9 arch=${10:-resfcn} lr=${11:-$LR}
  local init_args=(--lr "$lr")
  [ -n "$init" ] && init_args+=(--init "$init")
  echo "== $dir model ($arch, width $width, input $input): $minutes min; must end by +$((deadline - START)) s"
  timeout -k 5 $((deadline - $(date +%s) + grace)) \
    $PY -u training/train.py "${common[@]}" ${init_args[@]+"${init_args[@]}"} --arch "$arch" --width "$width" --input-size "$input" \
      --minutes "$minutes" --deadline "$deadline" --out "$WORK/$dir" --export "$OUT/$dir" \
      --name "$name" --description "$description"
  rc=$?
  echo "== $dir model: exit $rc at +$(( $(date +%s) - START )) s"
  pack_logs
}

# -- full model ---------------------------------------------------------------------------------
LIGHT_RESERVE=$($PY -c "print(int(float('$LIGHT_MIN') * 60 + 45) if float('$LIGHT_MIN') > 0 else 0)")
RT_RESERVE=$($PY -c "print(int(float('$RT_MIN') * 60 + 45) if float('$RT_MIN') > 0 else 0)")
RT_PID=
if [ "$PARALLEL" = "1" ] && [ "$RT_RESERVE" != "0" ]; then
  # The real-time network beside the others, from now to the end of the call.
  # It ends RT_LEAD_S (45) before the full model, so that their final evaluations and exports
  # do not share the GPU in the last seconds before the hard deadlines.
  RT_END=$((TOTAL_S - ${RT_LEAD_S:-45}))
  RT_MIN_PAR=$($PY -c "print(min(float('$RT_MIN'), ($RT_END - 45) / 60))")
  # Process substitution, so that $! is the subshell (whose child is timeout → train.py), not sed.
  ( train_model rt "$RT_WIDTH" "$RT_INPUT" "$RT_MIN_PAR" $((START + RT_END)) 10 "$RT_INIT" \
      "prnet-ts mobile" "PRNet real-time network (inverted-residual encoder, width $RT_WIDTH, input $RT_INPUT), trained by prnet-ts" mobile "$RT_LR"
    echo $rc > "$WORK/rt.rc" ) > >(sed -u 's/^/[rt] /') 2>&1 &
  RT_PID=$!
  RT_RESERVE=0
fi
if [ "$($PY -c "print(int(float('$FULL_MIN') > 0))")" = "0" ]; then
  echo "== full model: skipped (FULL_MIN=0)"
else
  train_model full 16 256 "$FULL_MIN" $((START + TOTAL_S - LIGHT_RESERVE - RT_RESERVE)) 15 "$INIT" \
    "prnet-ts resfcn256" "PRNet resfcn256 (width 16, input 256) trained by prnet-ts"
  if [ $rc -eq 2 ] || [ $rc -eq 3 ]; then
    echo "error: setup failed (data or GPU); not training the light model"
    if [ -n "$RT_PID" ]; then
      if [ $rc -eq 3 ]; then
        # The GPU: the real-time run cannot do better. (timeout passes the TERM on to train.py.)
        pkill -TERM -P "$RT_PID" 2>/dev/null; wait "$RT_PID"
      else
        # The full model's own data or weights (e.g. its --init): the real-time run beside it is
        # not concerned, and its result still comes back.
        echo "== full model failed its setup (exit 2); the real-time run goes on"
        wait "$RT_PID"
        pack_logs
        results
      fi
    fi
    exit $rc
  fi
  [ $rc -ne 0 ] && RC=$rc
fi

# -- light model --------------------------------------------------------------------------------
if [ "$LIGHT_RESERVE" = "0" ]; then
  echo "== light model: skipped (LIGHT_MIN=0)"
else
  train_model light 8 128 "$(minutes_left "$((TOTAL_S - RT_RESERVE))" 45 "$LIGHT_MIN")" $((START + TOTAL_S - RT_RESERVE)) 10 "$LIGHT_INIT" \
    "prnet-ts resfcn256-light" "PRNet resfcn256 at half width (8) and input 128, trained by prnet-ts"
  [ $rc -ne 0 ] && RC=$rc
fi

# -- real-time model (architecture mobile) ------------------------------------------------------
if [ -n "$RT_PID" ]; then
  wait "$RT_PID"
  rc=$(cat "$WORK/rt.rc" 2>/dev/null || echo 1)
  echo "== rt model (in parallel): exit $rc"
  [ "$rc" != "0" ] && RC=$rc
  pack_logs
elif [ "$RT_RESERVE" = "0" ]; then
  echo "== rt model: skipped (RT_MIN=0)"
else
  train_model rt "$RT_WIDTH" "$RT_INPUT" "$(minutes_left "$TOTAL_S" 45 "$RT_MIN")" $((START + TOTAL_S)) 10 "$RT_INIT" \
    "prnet-ts mobile" "PRNet real-time network (inverted-residual encoder, width $RT_WIDTH, input $RT_INPUT), trained by prnet-ts" mobile "$RT_LR"
  [ $rc -ne 0 ] && RC=$rc
fi

results
echo "== done in $(( $(date +%s) - START )) s, exit $RC"
exit $RC
