#!/usr/bin/env bash
# Installs, builds and starts omnichat in the foreground on the embedded
# defaults: SQLite under data/, and the echo provider unless
# OPENROUTER_API_KEY or OPENAI_API_KEY is set (in the environment or .env).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

# A development secret, made once and kept in .env (git-ignored).
if [ -z "${JWT_SECRET:-}" ] && ! grep -qs '^JWT_SECRET=' .env; then
  echo "JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >> .env
  echo "wrote a development JWT_SECRET to .env"
fi

token=$(build/bin/omnichat token --sub dev-user --ttl 86400)
echo
echo "development token (user dev-user, valid 24 h):"
echo "  export TOKEN=$token"
echo "try:"
echo "  curl -X POST 'http://localhost:8002/conversations?project_id=demo' -H \"Authorization: Bearer \$TOKEN\""
echo
exec build/bin/omnichat serve "$@"
