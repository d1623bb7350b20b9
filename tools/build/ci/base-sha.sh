#!/bin/sh
# Prints the commit a CI job compares against (the --base of `nx affected` / `carve deploy plan`),
# or nothing when there is none to trust (the caller then runs everything).
#   base-sha.sh               merge request: its diff base; main: the last successful main pipeline
#   base-sha.sh <environment> the commit of the last successful deployment to that environment
#                             (what is running there, not merely what passed CI)
# The GitLab API needs CARVE_CI_API_TOKEN (a project access token with read_api). Without it,
# main falls back to the previous push (CI_COMMIT_BEFORE_SHA) and an environment to "all".
set -eu
env_name="${1:-}"
api() {
  [ -n "${CARVE_CI_API_TOKEN:-}" ] || return 1
  curl --silent --show-error --fail --max-time 20 --header "PRIVATE-TOKEN: ${CARVE_CI_API_TOKEN}" "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/$1" \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const a=JSON.parse(s);if(Array.isArray(a)&&a[0]&&a[0].sha)process.stdout.write(a[0].sha)})'
}
known() { [ -n "$1" ] && git cat-file -e "$1^{commit}" 2>/dev/null; }

sha=""
if [ -n "${CI_MERGE_REQUEST_DIFF_BASE_SHA:-}" ] && [ -z "$env_name" ]; then
  sha="$CI_MERGE_REQUEST_DIFF_BASE_SHA"
elif [ -n "$env_name" ]; then
  sha="$(api "deployments?environment=${env_name}&status=success&order_by=id&sort=desc&per_page=1" || true)"
else
  sha="$(api "pipelines?ref=${CI_DEFAULT_BRANCH}&status=success&order_by=id&sort=desc&per_page=1" || true)"
  if [ -z "$sha" ] && [ -n "${CI_COMMIT_BEFORE_SHA:-}" ] && [ "$CI_COMMIT_BEFORE_SHA" != "0000000000000000000000000000000000000000" ]; then
    sha="$CI_COMMIT_BEFORE_SHA"
  fi
fi
if known "$sha"; then printf '%s\n' "$sha"; else printf '\n'; fi
