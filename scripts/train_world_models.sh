#!/usr/bin/env bash
# Train the frozen frame encoder, LAC-WM (pretraining + the paper's 3 adaptation stages) and EAC-WM
# (pretraining + adaptation) on demo files; every step is a `python -m harness.train` call.
#
#   scripts/train_world_models.sh OUT "PRETRAIN FILES" "ADAPT FILES" [HELD_OUT_NAME] [SCALE]
#
# PRETRAIN FILES: demos of >= 2 embodiments (e.g. LIBERO + SIMPLER); ADAPT FILES: the held-out task / robot,
# labelled HELD_OUT_NAME (default widowx_heldout). SCALE multiplies every step count (default 1).
# ENCODER=DIR (environment) uses that trained frame autoencoder (e.g. a shipped policy's frame_ae) instead of
# training one on the data; THREADS=N sets torch's CPU threads; WM_SET="--set KEY=VALUE ..." adds config
# overrides to every LAC-WM / EAC-WM stage (e.g. the ablation "--set augment_draw=frame").
set -euo pipefail
OUT=$1; PRE=$2; ADAPT=$3; HELD=${4:-widowx_heldout}; SCALE=${5:-1}
steps() { python -c "print(max(1, int($1 * $SCALE)))"; }
T="python -m harness.train --component world_model --no-progress --threads ${THREADS:-0}"
# a finished stage is kept (run the script again to go on; a changed ENCODER / WM_SET needs a new OUT)
done_in() { [ -e "$1/train_summary.json" ] && echo "kept finished stage $1"; }
if [ -n "${ENCODER:-}" ]; then
  ENC="--set encoder=$ENCODER ${WM_SET:-}"
else
  done_in "$OUT/frame_ae" || $T --name frame_ae --data $PRE $ADAPT --out "$OUT/frame_ae" --steps "$(steps 1500)" --batch-size 64 --lr 1e-3
  ENC="--set encoder=$OUT/frame_ae ${WM_SET:-}"
fi
done_in "$OUT/lac_pretrain" || $T --name lac_wm --data $PRE --out "$OUT/lac_pretrain" --steps "$(steps 3000)" --batch-size 64 $ENC
for stage in adapt_idm_fdm:lac_pretrain:lac_s1 adapt_projector:lac_s1:lac_s2 adapt_joint:lac_s2:lac_s3; do
  IFS=: read -r name init out <<< "$stage"
  done_in "$OUT/$out" || $T --name lac_wm --data $ADAPT --out "$OUT/$out" --steps "$(steps 800)" --batch-size 64 $ENC \
    --set stage=$name --set init="$OUT/$init" --set rename="$HELD"
done
done_in "$OUT/eac_pretrain" || $T --name eac_wm --data $PRE --out "$OUT/eac_pretrain" --steps "$(steps 3000)" --batch-size 64 $ENC
done_in "$OUT/eac_adapt" || $T --name eac_wm --data $ADAPT --out "$OUT/eac_adapt" --steps "$(steps 1600)" --batch-size 64 $ENC \
  --set stage=adapt --set init="$OUT/eac_pretrain" --set rename="$HELD"
echo "world models: $OUT/lac_s3 (LAC-WM), $OUT/eac_adapt (EAC-WM)"
