#!/usr/bin/env bash
# Sets up RoboCasa's kitchen code in its own Python environment: RoboCasa needs robosuite >= 1.5.2 (as
# praxis-robosuite 1.5.2.post1, a robosuite-master snapshot: PyPI robosuite 1.5.2 lacks load_model_on_init),
# MuJoCo 3.3.1 and numpy 2.2.5, while our LIBERO needs robosuite 1.4.0 / MuJoCo 2.3.7 under the same import name.
# RoboCasa's code: rpent-robocasa365 1.0.1 (RoboCasa 1.0.1 from the registry, with ROBOCASA_ASSETS_PATH support),
# installed without its pins (lerobot, tianshou and torch are only used by RoboCasa's dataset scripts).
# Then builds the offline kitchen asset tree (.cache/robocasa_offline; tasks/robocasa/offline_assets.py).
#   bash tasks/robocasa/install.sh [VENV_DIR]     (default: .cache/venvs/robocasa)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${1:-$root/.cache/venvs/robocasa}"
py="${ROBOCASA_BASE_PYTHON:-python3.11}"
offline="${HARNESS_ROBOCASA_OFFLINE_ASSETS:-$root/.cache/robocasa_offline}"
command -v "$py" >/dev/null || { echo "robocasa: needs $py" >&2; exit 1; }
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" "praxis-robosuite==1.5.2.post1" "mujoco==3.3.1" "numpy==2.2.5" "numba==0.61.2" "scipy==1.15.3" \
  "msgpack==1.1.0" "qpsolvers[quadprog]" Pillow pyyaml tqdm termcolor imageio \
  h5py lxml gymnasium
"${pip[@]}" --no-deps "rpent-robocasa365==1.0.1"
want=$(cd "$root" && "$venv/bin/python" -c "import tasks.robocasa.offline_assets as a; print(a.FORMAT)")
have=$("$venv/bin/python" -c "import json,sys; print(json.load(open(sys.argv[1]))['format'])" \
  "$offline/harness_offline_kitchen.json" 2>/dev/null || echo none)
if [ "$have" != "$want" ]; then
  (cd "$root" && MUJOCO_GL=osmesa "$venv/bin/python" -m tasks.robocasa.offline_assets "$offline" 2>&1 | grep -v WARNING)
fi
echo "robocasa: $(cd "$root" && "$venv/bin/python" -c 'import robosuite, mujoco, numpy; print("robosuite", robosuite.__version__, "mujoco", mujoco.__version__, "numpy", numpy.__version__)' 2>/dev/null) in $venv; offline kitchen in $offline"
