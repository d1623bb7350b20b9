#!/bin/sh
# Writes a Docker config ($DOCKER_CONFIG/config.json, default ~/.docker) with credentials for
# the given ECR registries, from the job's AWS role (`aws ecr get-login-password`). buildctl,
# crane, syft and trivy all read it.
#   registry-login.sh <registry> [<registry>...]
set -eu
[ "$#" -gt 0 ] || { echo "usage: registry-login.sh <registry> [<registry>...]" >&2; exit 2; }
dir="${DOCKER_CONFIG:-$HOME/.docker}"
mkdir -p "$dir"
auths=""
for registry in "$@"; do
  token="$(aws ecr get-login-password --region "${AWS_REGION:?AWS_REGION is not set}")"
  auth="$(printf 'AWS:%s' "$token" | base64 | tr -d '\n')"
  auths="${auths}${auths:+,}\"${registry}\":{\"auth\":\"${auth}\"}"
done
umask 077
printf '{"auths":{%s}}\n' "$auths" > "$dir/config.json"
echo "registry credentials for: $*"
