#!/usr/bin/env bash
# Assemble SECURITY.md from its sections under docs/ (each section's owner edits its own file).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  cat docs/security-header.md
  for part in threat-model security-crypto security-audit security-policy security-redaction \
              security-training security-deploy; do
    echo
    # demote each section's headings one level, so SECURITY.md has one title
    awk '/^```/ {fence = !fence} !fence && /^#/ {$0 = "#" $0} {print}' "docs/$part.md"
  done
} > SECURITY.md
echo "wrote SECURITY.md ($(wc -l < SECURITY.md) lines)"
