#!/usr/bin/env bash
# The full-profile runs that need a GPU, most wanted first, in one window of a few minutes.
#
#   bash scripts/gpu_window.sh SECONDS OUTDIR
#
# Each step runs under its own time limit, cut to what is left of SECONDS, and writes its own
# result file with metadata (device, versions, commit, seed, command, wall time) under OUTDIR, so
# a window that ends early still brings back every step it finished. A step that fails is logged
# (OUTDIR/steps.log holds every step's output) and the next one runs. A device call returns at most 8
# files, so the machine's facts go into OUTDIR/steps.txt with each step's exit status, and the studies'
# Parquet copies of their CSV tables are removed at the end. The study resumes: when STUDY_FROM names the folder of
# an earlier partial full-profile study, its rows are copied in first and only the missing cells run.
#
# Environment: REC_UNLEARN_DATA (default .device-data, a copy of ../shared/data/receraser-ml-1m
# for a machine that cannot see ../shared), PROFILE (default full), DEVICE (default cuda),
# PYTHON (default python3). On a CPU, `PROFILE=quick DEVICE=cpu` checks the script itself.
set -uo pipefail
cd "$(dirname "$0")/.."

budget=${1:?usage: gpu_window.sh SECONDS OUTDIR}
out=${2:?usage: gpu_window.sh SECONDS OUTDIR}
profile=${PROFILE:-full}
device=${DEVICE:-cuda}
python=${PYTHON:-python3}
export PYTHONPATH=. REC_UNLEARN_DATA=${REC_UNLEARN_DATA:-.device-data} TQDM_DISABLE=1
if [[ -n "${STUDY_FROM:-}" && ! -f "${STUDY_FROM}/study.csv" ]]; then
  echo "STUDY_FROM=$STUDY_FROM holds no study.csv" >&2
  exit 2
fi
mkdir -p "$out"
end=$((SECONDS + budget))
reserve=15    # seconds kept back for the last step's files to be written and returned

# step NAME CAP COMMAND...: run COMMAND for at most CAP seconds (less if the window ends sooner)
step() {
  local name=$1 cap=$2 left
  shift 2
  left=$((end - SECONDS - reserve))
  if ((left < 20)); then
    echo "::: $name skipped: ${left}s left" | tee -a "$out/steps.txt"
    return 1
  fi
  ((cap > left)) && cap=$left
  local start=$SECONDS
  echo "::: $name: $*" >> "$out/steps.log"
  timeout --signal=INT --kill-after=10 "$cap" "$@" >> "$out/steps.log" 2>&1
  local rc=$?
  echo "::: $name rc=$rc $((SECONDS - start))s (limit ${cap}s): $*" | tee -a "$out/steps.txt"
  return $rc
}

{ "$python" - <<'EOF'
import torch, platform
print("torch", torch.__version__, "cuda", torch.version.cuda, "python", platform.python_version())
print("gpu", torch.cuda.get_device_name() if torch.cuda.is_available() else "none")
EOF
  git rev-parse HEAD 2>/dev/null || echo "commit: ${REC_UNLEARN_COMMIT:-unknown}"
} > "$out/steps.txt" 2>&1

cli=("$python" -m rec_unlearn_lib)
common=(--profile "$profile" --device "$device" --seed 0)

# 1. IFRU on LightGCN at the full profile with the study's damping (1e-3, study.grid.LIGHTGCN_DAMPING): without
#    damping its conjugate-gradient solve stopped on negative curvature (results/gpu-2026-11-28/ifru_lightgcn.log).
#    A fit, IFRU and one Retrain: about 200 s on an H200 (LightGCN's Retrain took 93 s there). RecEraser's Tables 3
#    and 4 for LightGCN, the window's earlier first step, are in results/gpu-2026-11-28.
step ifru-lightgcn 260 bash -c '"$@" > "$0"' "$out/ifru_lightgcn.json" "${cli[@]}" unlearn --model lightgcn \
  --method ifru "${common[@]}" --forget-ratio 0.001 --damping 1e-3

# 2. The influence methods against Retrain at the full profile on LightGCN (MF and BPR-MF: results/gpu-2026-11-27),
#    the smallest random request and IFRU's attack, resumable like the study below.
step study-influence-lightgcn 300 "${cli[@]}" study --profile "$profile" --device "$device" --no-progress \
  --backbones lightgcn --methods retrain ifru scif ubpr --forget random:0.001 attack:0.02 \
  --out "$out/study-influence-lightgcn"

# 3. The study in the full profile, with whatever time is left (resumable across windows). WMF's cells run on a
#    CPU in reasonable time (results/cpu-2026-11-27/study-full-wmf), so the GPU takes the other three backbones.
if [[ -n "${STUDY_FROM:-}" ]]; then
  mkdir -p "$out/study-full"
  cp -r "$STUDY_FROM/." "$out/study-full/"
fi
step study-full 100000 "${cli[@]}" study --profile "$profile" --device "$device" --no-progress \
  --backbones mf bpr lightgcn --out "$out/study-full"
find "$out" -name study.parquet -delete      # the same tables as study.csv: within the 8 files a call returns
echo "::: window done after $SECONDS s" | tee -a "$out/steps.txt"
