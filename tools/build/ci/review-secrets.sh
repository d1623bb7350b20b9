#!/bin/sh
# Prepares a review environment's namespace before its first deploy (idempotent, so every
# pipeline of the merge request runs it): the namespace, a database of its own on the staging
# RDS instance, and the Secrets the charts read by reference (charts/README.md lists the keys).
#   review-secrets.sh review-<iid>
# CI variables (protected, masked): REVIEW_DATABASE_ADMIN_URL (a role that may CREATE DATABASE
# on the staging instance), REVIEW_JWT_PUBLIC_KEY (the review token issuer's RS256 public key).
# Review environments use one database role for app and migrations: they hold test data only.
set -eu
ns="$1"
iid="${CI_MERGE_REQUEST_IID:?merge request pipelines only}"
db="review_${iid}"
: "${REVIEW_DATABASE_ADMIN_URL:?set REVIEW_DATABASE_ADMIN_URL in the CI/CD variables}"
: "${REVIEW_JWT_PUBLIC_KEY:?set REVIEW_JWT_PUBLIC_KEY in the CI/CD variables}"

kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl label namespace "$ns" carve.dev/environment=review "carve.dev/merge-request=${iid}" --overwrite >/dev/null

if ! psql "$REVIEW_DATABASE_ADMIN_URL" -tAc "SELECT 1 FROM pg_database WHERE datname = '${db}'" | grep -q 1; then
  psql "$REVIEW_DATABASE_ADMIN_URL" --set ON_ERROR_STOP=1 -c "CREATE DATABASE ${db}" >/dev/null
fi
# The admin URL with the review database as its path (no secret is echoed).
db_url="$(node -e 'const u=new URL(process.argv[1]);u.pathname="/"+process.argv[2];process.stdout.write(u.toString())' "$REVIEW_DATABASE_ADMIN_URL" "$db")"
# Keep the gateway's admin token across pipelines of the same merge request.
admin_token="$(kubectl get secret gateway --namespace "$ns" -o jsonpath='{.data.admin-token}' 2>/dev/null | base64 -d 2>/dev/null || true)"
[ -n "$admin_token" ] || admin_token="$(node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("hex"))')"

secret() {
  name="$1"; shift
  kubectl create secret generic "$name" --namespace "$ns" "$@" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  echo "secret $ns/$name: ok"
}
for app in legacy-monolith insights-service roadmaps-service; do
  secret "$app" --from-literal=database-url="$db_url" --from-literal=migrator-database-url="$db_url" --from-literal=jwt-public-key="$REVIEW_JWT_PUBLIC_KEY"
done
secret gateway --from-literal=database-url="$db_url" --from-literal=migrator-database-url="$db_url" --from-literal=jwt-public-key="$REVIEW_JWT_PUBLIC_KEY" --from-literal=admin-token="$admin_token"
secret relay --from-literal=database-url="$db_url"
