#!/usr/bin/env bash
# Puts Swagger UI (the npm package swagger-ui-dist, pinned by version and
# checksum) into DIR, for GET /docs. Does nothing when it is already there.
#   scripts/fetch-docs-ui.sh DIR
set -euo pipefail
version=5.35.0
sha512=U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
dir=$1
[ -f "$dir/swagger-ui-dist-$version" ] && exit 0
command -v npm >/dev/null || { echo "fetch-docs-ui: npm is missing: /docs will answer 404" >&2; exit 0; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null)
actual=$(openssl dgst -sha512 -binary "$work/swagger-ui-dist-$version.tgz" | base64 -w0)
[ "$actual" = "$sha512" ] || { echo "fetch-docs-ui: checksum mismatch for swagger-ui-dist $version" >&2; exit 1; }
tar xzf "$work/swagger-ui-dist-$version.tgz" -C "$work"
mkdir -p "$dir"
cp "$work/package/swagger-ui.css" "$work/package/swagger-ui-bundle.js" "$work/package/LICENSE" "$dir/"
touch "$dir/swagger-ui-dist-$version"
