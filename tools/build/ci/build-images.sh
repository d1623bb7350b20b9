#!/bin/sh
# Builds and pushes each image of an image list with BuildKit (buildctl against $BUILDKIT_HOST),
# once, tagged with the commit, and records its digest: the digest is what gets scanned, what
# the SBOM describes and what is promoted to production (promote-images.sh), never rebuilt.
#   build-images.sh <images.txt> <registry> <tag> <digests.txt>
# images.txt: "<project> <dockerfile> <build output>" per line (carve-build images).
# digests.txt: "<project> <registry>/carve/<project>@sha256:..." per line.
set -eu
images="$1" registry="$2" tag="$3" digests="$4"
: > "$digests"
if [ ! -s "$images" ]; then echo "no image to build"; exit 0; fi
meta="$(mktemp)"
while read -r project dockerfile output; do
  [ -n "$project" ] || continue
  ref="$registry/carve/$project"
  echo "== $project ($dockerfile, build output $output) -> $ref:$tag"
  buildctl build \
    --frontend dockerfile.v0 \
    --local context=. \
    --local dockerfile="$(dirname "$dockerfile")" \
    --opt filename="$(basename "$dockerfile")" \
    --opt "label:org.opencontainers.image.revision=${CI_COMMIT_SHA:-unknown}" \
    --opt "label:org.opencontainers.image.source=${CI_PROJECT_URL:-unknown}" \
    --import-cache "type=registry,ref=$registry/carve/buildcache:$project" \
    --export-cache "type=registry,ref=$registry/carve/buildcache:$project,mode=max" \
    --output "type=image,name=$ref:$tag,push=true" \
    --metadata-file "$meta"
  digest="$(node -e 'const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(m["containerimage.digest"] || "")' "$meta")"
  case "$digest" in sha256:*) ;; *) echo "buildctl reported no digest for $project" >&2; exit 1 ;; esac
  echo "$project $ref@$digest" >> "$digests"
done < "$images"
rm -f "$meta"
cat "$digests"
