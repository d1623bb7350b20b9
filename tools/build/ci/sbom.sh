#!/bin/sh
# An SBOM (CycloneDX JSON, syft) of each image built, by digest.
#   sbom.sh <digests.txt> <out dir>
set -eu
digests="$1" out="$2"
mkdir -p "$out"
if [ ! -s "$digests" ]; then echo "no image built: no SBOM"; exit 0; fi
while read -r project ref; do
  [ -n "$project" ] || continue
  echo "== $project ($ref)"
  syft scan "registry:$ref" --output "cyclonedx-json=$out/$project.cdx.json"
done < "$digests"
