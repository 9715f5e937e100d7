#!/bin/sh
# Rebuild the dashboard from source and fail when the committed build in
# internal/web/dist differs from it (CI runs this). The build is
# deterministic: same sources + same package-lock.json => same bytes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$here"
if [ "${SKIP_NPM_CI:-}" != "1" ]; then
	npm ci --no-audit --no-fund --loglevel=error
fi
npm test --silent
npm run build --silent
cd "$repo"
# Untracked, modified and deleted files under dist all count.
changes=$(git status --porcelain --untracked-files=all -- internal/web/dist)
if [ -n "$changes" ]; then
	echo "internal/web/dist is stale: rebuild it (cd web && npm ci && npm run build) and commit the result." >&2
	echo "$changes" >&2
	git --no-pager diff --stat -- internal/web/dist >&2 || true
	exit 1
fi
echo "internal/web/dist matches web/ sources."
