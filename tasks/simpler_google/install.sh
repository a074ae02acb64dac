#!/usr/bin/env bash
# Sets up SIMPLER's original Google Robot environments (ManiSkill2_real2sim on SAPIEN 2.2.2) in their own
# Python environment: SAPIEN 2 and ManiSkill3's SAPIEN 3 both import as `sapien`, and this stack needs numpy<2.
#   bash tasks/simpler_google/install.sh [VENV_DIR]     (default: .cache/venvs/simpler_google)
# Source of ManiSkill2_real2sim: $MS2_REAL2SIM_SRC, else ../shared/vendor/ManiSkill2_real2sim (commit ef7a4d4),
# else the upstream repository at that commit (needs internet).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${1:-$root/.cache/venvs/simpler_google}"
py="${SIMPLER_GOOGLE_BASE_PYTHON:-python3.11}"
src="${MS2_REAL2SIM_SRC:-$root/../shared/vendor/ManiSkill2_real2sim}"
upstream="git+https://github.com/simpler-env/ManiSkill2_real2sim@ef7a4d4fdf4b69f2c2154db5b15b9ac8dfe10682"
command -v "$py" >/dev/null || { echo "simpler_google: needs $py (SAPIEN 2.2.2 ships cp311 wheels only)" >&2; exit 1; }
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" "numpy==1.24.4" "sapien==2.2.2" "scipy==1.15.3" "gymnasium==0.29.1" "msgpack==1.1.0" \
  h5py pyyaml tqdm tabulate transforms3d "opencv-python-headless==4.10.0.84" imageio trimesh rtree ruckig
if [ -d "$src/mani_skill2_real2sim" ]; then
  "${pip[@]}" --no-deps "$src"
else
  "${pip[@]}" --no-deps "$upstream"
fi
bash "$root/tasks/simpler_google/vulkan_compat/build.sh" "$root/.cache/vulkan_compat" >/dev/null
echo "simpler_google: $("$venv/bin/python" -c 'import sapien, numpy, mani_skill2_real2sim; print("sapien", sapien.__version__, "numpy", numpy.__version__)') in $venv"
