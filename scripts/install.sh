#!/usr/bin/env bash
# One-command install: system packages for headless rendering + the Python project + every suite's simulator.
# Installs into the active Python (use a venv if you want isolation); SIMPLER's Google Robot environments
# (SAPIEN 2, numpy<2) get their own venv under .cache/venvs/simpler_google (tasks/simpler_google/install.sh), and
# RoboCasa (robosuite 1.5, MuJoCo 3.3.1, numpy 2) under .cache/venvs/robocasa (tasks/robocasa/install.sh).
#   bash scripts/install.sh            # everything (LIBERO, SIMPLER Bridge + Google Robot, remote policies, Ray)
#   SKIP_APT=1 bash scripts/install.sh # Python side only
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

install_apt() {
  # Mesa 25 lavapipe (Vulkan on CPU, needed by SAPIEN/ManiSkill) lives in bookworm-backports.
  # The backports suite is derived from the machine's own Debian apt source (no host is hard-coded).
  . /etc/os-release
  local codename=${VERSION_CODENAME:-bookworm}
  local bp=/etc/apt/sources.list.d/harness-backports.sources
  if [ ! -f "$bp" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
    local uri
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$uri" "$codename" | $SUDO tee "$bp" >/dev/null
  elif [ ! -f "$bp" ] && [ -f /etc/apt/sources.list ]; then
    local line
    line=$(grep -E "^deb .* ${codename} " /etc/apt/sources.list | head -1 | sed "s/ ${codename} / ${codename}-backports /")
    [ -n "$line" ] && echo "$line" | $SUDO tee /etc/apt/sources.list.d/harness-backports.list >/dev/null
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    libegl1 libgl1 libgl1-mesa-dri libosmesa6 libglu1-mesa libvulkan1 vulkan-tools \
    gcc libc6-dev libvulkan-dev >/dev/null  # compiler + Vulkan headers: the SAPIEN 2 compatibility layer
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -t "${codename}-backports" mesa-vulkan-drivers libdrm2 libdrm-amdgpu1 libgl1-mesa-dri libegl-mesa0 libglx-mesa0 libgbm1 >/dev/null
}

if [ "${SKIP_APT:-0}" != "1" ]; then install_apt; fi

# CPU torch first (a local CPU wheel where present), so no dependency pulls a CUDA build.
$PY -m pip install -q "torch==2.13.0"
$PY -m pip install -q -e ".[sim,dev,remote,ray]"  # ray: the optional --backend ray (its tests run in CI)
bash tasks/simpler_google/install.sh  # own venv (python3.11) + the Vulkan compatibility layer
bash tasks/robocasa/install.sh  # own venv (robosuite 1.5 / MuJoCo 3.3.1) + the offline kitchen asset tree
echo "install: ok ($($PY -c 'import torch,mujoco,robosuite;print("torch",torch.__version__,"mujoco",mujoco.__version__,"robosuite",robosuite.__version__)'))"
