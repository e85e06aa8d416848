#!/bin/sh
# Claude Code's otelHeadersHelper for the multi-tenant gateway
# (collector-config/gateway-multitenant.yaml; README "Rolling out").
#
# Prints the user's own OTLP header as the JSON object Claude Code wants:
#   {"Authorization": "Basic <base64 of user:password>"}
# so each user authenticates with their own credential and the gateway sets
# labels.tenant (and the namespace) from it: nothing the laptop claims in its
# telemetry decides where the records land.
#
# The credential, `user:password` on one line, is read from the first of:
#   1. $COWORK_ECS_CREDENTIAL_FILE, else ${XDG_CONFIG_HOME:-$HOME/.config}/cowork-ecs/credential
#      (must not be readable by group or others: chmod 600);
#   2. the OS keychain, service "cowork-ecs-gateway":
#      macOS:  security add-generic-password -s cowork-ecs-gateway -a "$USER" -w 'user:password'
#      Linux:  secret-tool store --label='cowork-ecs gateway' service cowork-ecs-gateway   (libsecret)
#
# Claude Code runs it (no arguments, in the session's folder, 30 s timeout)
# at start and again every 29 minutes (CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS);
# on a failure it logs the message below and exports without the header, so
# the gateway refuses the data (401).
set -eu

fail() {
  echo "otel-headers-helper: $*" >&2
  exit 1
}

credential=
file=${COWORK_ECS_CREDENTIAL_FILE:-${XDG_CONFIG_HOME:-${HOME:-}/.config}/cowork-ecs/credential}
if [ -f "$file" ]; then
  # Another user must not read it (ls -l: ----rw-rw- positions 5-10).
  mode=$(ls -ln "$file" | cut -c5-10)
  case $mode in
    ------) ;;
    *) fail "$file is readable by other users (chmod 600 it)" ;;
  esac
  credential=$(head -n 1 "$file" | tr -d '\r\n')
elif command -v security >/dev/null 2>&1; then
  credential=$(security find-generic-password -s cowork-ecs-gateway -w 2>/dev/null) || true
elif command -v secret-tool >/dev/null 2>&1; then
  credential=$(secret-tool lookup service cowork-ecs-gateway 2>/dev/null) || true
fi

[ -n "$credential" ] || fail "no credential: put user:password in $file (chmod 600) or the keychain (service cowork-ecs-gateway)"
case $credential in
  ?*:?*) ;;
  *) fail "the credential is not user:password" ;;
esac

# base64 has no character JSON must escape; tr: macOS and GNU wrap differently.
encoded=$(printf '%s' "$credential" | base64 | tr -d '\n')
printf '{"Authorization": "Basic %s"}\n' "$encoded"
