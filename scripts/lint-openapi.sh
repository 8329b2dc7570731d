#!/usr/bin/env bash
# Lints the OpenAPI document with Redocly's CLI (pinned; from the npm
# registry through npx). Installs Node.js from Debian when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npx >/dev/null; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
npx --yes @redocly/cli@2.77.0 lint --config api/openapi/redocly.yaml api/openapi/openapi.json
