#!/usr/bin/env bash
# The GPU measurements of benchmarks/RESULTS.md in one go, for a session lent
# a GPU (about 6 minutes on an H100/H200). Writes logs and JSON to $OUT
# (default benchmarks/out/).
#
# A lent machine has torch, transformers, numpy, pandas, pyarrow, scipy,
# statsmodels, typer, rich, jinja2, pillow, scikit-image and nvidia-ml-py but
# not what is listed below; fetch those here as wheels for its Python into
# .whl/ (ignored by git), with the device tool's pip download command:
#   diffusers==0.42.1 open_clip_torch==3.3.0 ftfy==6.3.1 wcwidth==0.9.4
#   jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0
#   rpds-py==2026.9.1
# then run, carrying .whl:   bash benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/out}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/device.txt"

# the tests that need a GPU (engine on CUDA, NVML energy)
python3 -m pytest -q --run-gpu -m gpu tests 2>&1 | tee "$OUT/gpu-tests.log" || true

# five rows + generate-then-rescore, SD1.5 shapes, the issue's settings, with
# NVML joules per image and a profiler trace of two eager engine batches
python3 benchmarks/generation.py --arch sd15 --steps 30 --size 512 --n 128 --loop-n 8 \
    --batch-size 32 --clip ViT-L-14 --energy --json "$OUT/generation.json" \
    --profile "$OUT/engine-trace.json" 2>&1 | tee "$OUT/generation.log"
gzip -f "$OUT/engine-trace.json"

# rescoring stored PNGs, with the host's decode rate beside it
python3 benchmarks/scoring.py --model ViT-L-14 --n 4096 --size 512 \
    --json "$OUT/scoring.json" 2>&1 | tee "$OUT/scoring.log"
