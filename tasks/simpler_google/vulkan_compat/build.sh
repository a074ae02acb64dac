#!/usr/bin/env bash
# Builds the Vulkan compatibility layer into OUT_DIR (default: .cache/vulkan_compat under the project root).
# Needs a C compiler and the Vulkan headers (Debian: libvulkan-dev); scripts/install.sh installs both.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../../.cache/vulkan_compat}"
mkdir -p "$out"
cc -shared -fPIC -O2 -Wall -Wextra -fvisibility=hidden -o "$out/libharness_lavapipe_compat.so" "$here/lavapipe_compat.c"
cp "$here/manifest.json.in" "$out/VK_LAYER_HARNESS_lavapipe_compat.json"
echo "vulkan compat layer: $out"
