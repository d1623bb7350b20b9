#!/bin/sh
# Scans each image built, by digest (trivy): fails on a CRITICAL vulnerability that has a fix;
# HIGH ones are reported. The reports are kept as job artifacts.
#   scan-images.sh <digests.txt> <out dir>
set -eu
digests="$1" out="$2"
mkdir -p "$out"
if [ ! -s "$digests" ]; then echo "no image built: nothing to scan"; exit 0; fi
status=0
while read -r project ref; do
  [ -n "$project" ] || continue
  echo "== $project ($ref)"
  trivy image --quiet --severity HIGH,CRITICAL --format json --output "$out/$project.trivy.json" "$ref"
  trivy image --quiet --severity CRITICAL --ignore-unfixed --exit-code 1 "$ref" || status=1
done < "$digests"
exit $status
