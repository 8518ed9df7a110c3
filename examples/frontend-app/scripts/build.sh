#!/usr/bin/env bash
# Build the SPA: `npm ci` from the committed package-lock.json (packages cached in NPM_CACHE), then
# `npm run build` (vite) into dist/. Hashed assets land in dist/assets/, unhashed files (index.html,
# public/*) at the top.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npm_cache="${NPM_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/platformkit/npm}"
npm ci --cache "${npm_cache}" --prefer-offline --no-audit --no-fund
npm run build
