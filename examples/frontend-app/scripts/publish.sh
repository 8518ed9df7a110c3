#!/usr/bin/env bash
# Publish a build to the frontend's bucket in two passes, then invalidate only what can change in place.
#
#   publish.sh [DIST_DIR] [STACK_DIR]        (defaults: dist, infra)
#
# Bucket and distribution come from `terraform output` of STACK_DIR (the frontend's stack).
#   pass 1: hashed assets (assets/<name>-<hash>.<ext>): Cache-Control "public, max-age=31536000, immutable".
#           Their names change whenever their content does, so caches may keep them forever.
#   pass 2: everything else (index.html, robots.txt, ...): Cache-Control "no-cache" (browsers revalidate),
#           uploaded whenever size or time differ (never --size-only: an edited index.html can keep its size).
#           --delete removes unhashed files gone from the build; old hashed assets stay for pages still open.
#   then:   one CloudFront invalidation of exactly the unhashed paths (and "/" for index.html).
# Environment: AWS_CLI (default aws), TERRAFORM (default terraform), PK_AWS_ENDPOINT_URL (a local emulator).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dist="${1:-dist}"
stack="${2:-infra}"
aws_cli="${AWS_CLI:-aws}"
terraform="${TERRAFORM:-terraform}"
[[ -f "${dist}/index.html" ]] || { echo "publish.sh: ${dist}/index.html missing: build first" >&2; exit 1; }

aws_args=()
[[ -n "${PK_AWS_ENDPOINT_URL:-}" ]] && aws_args+=(--endpoint-url "${PK_AWS_ENDPOINT_URL}")
bucket="$("${terraform}" -chdir="${stack}" output -raw bucket_name)"
distribution="$("${terraform}" -chdir="${stack}" output -raw distribution_id)"

hashed_re='^assets/.+-[A-Za-z0-9_-]{8,}\.[A-Za-z0-9]+$'
hashed=()
unhashed=()
while IFS= read -r f; do
  if [[ "${f}" =~ ${hashed_re} ]]; then
    hashed+=("${f}")
  elif [[ "${f}" == assets/* ]]; then
    echo "publish.sh: ${f} is in assets/ but has no content hash in its name: it would be cached forever" >&2
    exit 1
  else
    unhashed+=("${f}")
  fi
done < <(cd "${dist}" && find . -type f | sed 's|^\./||' | sort)
echo "publish.sh: ${#hashed[@]} hashed asset(s), ${#unhashed[@]} unhashed file(s) to s3://${bucket}"

"${aws_cli}" "${aws_args[@]}" s3 sync "${dist}" "s3://${bucket}" --no-progress \
  --exclude '*' --include 'assets/*' \
  --cache-control 'public, max-age=31536000, immutable'
"${aws_cli}" "${aws_args[@]}" s3 sync "${dist}" "s3://${bucket}" --no-progress --delete \
  --exclude 'assets/*' \
  --cache-control 'no-cache'

paths=()
for f in "${unhashed[@]}"; do
  paths+=("/${f}")
  [[ "${f}" == "index.html" ]] && paths+=("/")
done
"${aws_cli}" "${aws_args[@]}" cloudfront create-invalidation --distribution-id "${distribution}" \
  --paths "${paths[@]}" --query 'Invalidation.Id' --output text
echo "publish.sh: invalidated ${paths[*]} on ${distribution}"
