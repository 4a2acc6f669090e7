#!/usr/bin/env bash
# End-to-end check of the segmentation bundles (DS2F, SS-MAF) with the real MONAI Label 0.8.5 server.
#
# 1. Makes (or reuses) a virtual environment for MONAI Label, apart from the project's: MONAI_LABEL_VENV, default
#    ~/.cache/monai_ext/monailabel-0.8.5 (reused while .ci/monailabel_requirements.txt is unchanged).
#    - torch: the CPU build 2.13.0 (the same as the project's).
#    - torchvision 0.16.2, installed without its dependencies: every torchvision wheel on PyPI for Linux x86_64 is a
#      CUDA build. Those made for torch 2.13 fail to import beside the CPU torch (`operator torchvision::nms does not
#      exist`), and a CUDA torch brings several GB of NVIDIA libraries. 0.16.2 is the newest release whose Python code
#      imports without its compiled operators (they are then unavailable); MONAI Label imports only
#      torchvision.utils (make_grid, save_image) from it, for its pathology and DeepEdit code.
#    - monailabel==0.8.5 without its dependencies, then its requirements from .ci/monailabel_requirements.txt
#      (without torchvision and sam2, an optional extra of its SAM2 tasks).
# 2. Runs the tests marked `monailabel` (tests/bundles/test_monailabel.py: the real BundleInferTask with its writer,
#    and BundleTrainTask) in that environment.
# 3. Runs .ci/monailabel_e2e.py with that environment's Python and this checkout on PYTHONPATH: the real
#    `monailabel start_server` on 127.0.0.1 with the monaibundle sample app shipped inside the monailabel wheel.
#
# Usage: bash .ci/monailabel_e2e.sh [--keep WORKDIR] [--skip-train] [--bundles ds2f ss_maf]
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
VENV="${MONAI_LABEL_VENV:-$HOME/.cache/monai_ext/monailabel-0.8.5}"
REQS="$REPO/.ci/monailabel_requirements.txt"
TORCH="torch==2.13.0"
TORCHVISION="torchvision==0.16.2"
MONAILABEL="monailabel==0.8.5"
STAMP="$VENV/.monai_ext_requirements.sha256"
WANT="$( (cat "$REQS"; echo "$TORCH $TORCHVISION $MONAILABEL") | sha256sum | cut -d' ' -f1)"
# pip's notes about the local index folders it skips: noise in the log
quiet_pip() { "$VENV/bin/python" -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$VENV/bin/monailabel" ]]; then
    echo "[monailabel_e2e] reusing $VENV"
else
    echo "[monailabel_e2e] creating $VENV"
    start=$(date +%s)
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
    quiet_pip install --quiet --upgrade pip
    quiet_pip install --quiet "$TORCH"
    quiet_pip install --quiet --no-deps "$TORCHVISION"
    # pip then reports that torchvision 0.16.2 asks for torch 2.1.2: expected, see above
    quiet_pip install --quiet "$TORCH" -r "$REQS"
    quiet_pip install --quiet --no-deps "$MONAILABEL"
    echo "$WANT" > "$STAMP"
    echo "[monailabel_e2e] environment made in $(( $(date +%s) - start )) s, $(du -sh "$VENV" | cut -f1)"
fi
"$VENV/bin/python" -m pip list 2>/dev/null \
    | grep -iE "^(torch|torchvision|monai|monailabel|itk|pydicom|pynetdicom|numpy) " || true

export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$VENV/bin:$PATH"
# MONAI Label settings: no MLflow tracking store, no automatic scoring
export MONAI_LABEL_TRACKING_ENABLED=false
export MONAI_LABEL_AUTO_UPDATE_SCORING=false
start=$(date +%s)
"$VENV/bin/python" -m pytest tests/bundles/test_monailabel.py -m monailabel -q -p no:cacheprovider
echo "[monailabel_e2e] marked tests in $(( $(date +%s) - start )) s"
exec "$VENV/bin/python" "$REPO/.ci/monailabel_e2e.py" "$@"
