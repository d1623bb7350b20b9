#!/bin/sh
# Promotes images to another registry by digest: each project of an image list is copied from
# the digest the images job built and pushed (crane copy keeps the manifest, so the digest stays
# the same), tagged there, and the copy's digest is checked. Nothing is rebuilt.
#   promote-images.sh <images.txt> <digests.txt> <registry> <tag>
set -eu
images="$1" digests="$2" registry="$3" tag="$4"
if [ ! -s "$images" ]; then echo "no image to promote"; exit 0; fi
while read -r project _dockerfile _output; do
  [ -n "$project" ] || continue
  src="$(awk -v p="$project" '$1 == p { print $2 }' "$digests")"
  if [ -z "$src" ]; then
    echo "the image of $project was not built by this pipeline's images job (not in $digests): nothing to promote" >&2
    exit 1
  fi
  digest="${src#*@}"
  dst="$registry/carve/$project:$tag"
  echo "== $project: $src -> $dst"
  crane copy "$src" "$dst"
  got="$(crane digest "$dst")"
  if [ "$got" != "$digest" ]; then
    echo "$dst has digest $got, not the promoted $digest" >&2
    exit 1
  fi
done < "$images"
