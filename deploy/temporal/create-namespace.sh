#!/bin/sh
# Registers a namespace for docker-compose.temporal.yml if it does not exist yet.
set -eu
ns="${1:-default}"
temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1 || temporal operator namespace create --namespace "$ns" --retention 30d
echo "namespace $ns ready"
