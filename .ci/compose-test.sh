#!/usr/bin/env bash
# docker-compose.yml for real, without any container registry:
#   1. installs Debian's docker.io, docker-compose and debootstrap;
#   2. starts dockerd with all its state under a temp dir;
#   3. builds a base image: debootstrap --variant=minbase bookworm + this machine's node, npm and
#      Node headers (+ its CA bundle, which the npm registry needs here), then `docker import`;
#   4. builds the project image with --build-arg NODE_IMAGE=<that image>;
#   5. with Debian's docker-compose 1.29, then with Compose v2 (`docker compose`, from Debian 13's
#      archive, checked against Debian's keyring: compose-v2.sh):
#        up -d, waits for every healthcheck,
#        packages/devnet/test/compose/compose.e2e.ts (viem through the published ports),
#        down -v;
#   6. stops dockerd, removes the temp dir.
# A dockerd that cannot start fails this script: it never skips.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
T0=$(date +%s)
step() { echo "== compose [$(($(date +%s) - T0)) s] $*"; }

step "installing docker.io, docker-compose, debootstrap (apt)"
export DEBIAN_FRONTEND=noninteractive
if ! command -v dockerd >/dev/null || ! command -v docker-compose >/dev/null || ! command -v debootstrap >/dev/null; then
  apt-get update -q >/dev/null
  apt-get install -y -q docker.io docker-compose debootstrap >/dev/null
fi
# Debian's client, matching its dockerd (another docker client may come first on the PATH).
DOCKER=/usr/bin/docker
COMPOSE=(docker-compose --project-name staccato-ci)

WORK=$(mktemp -d /tmp/staccato-compose.XXXXXX)
export DOCKER_HOST="unix://$WORK/docker.sock"
DOCKERD_PID=""
COMPOSE_UP=0
cleanup() {
  local status=$?
  set +e
  if [ "$COMPOSE_UP" = 1 ]; then
    if [ "$status" != 0 ]; then
      echo "== compose: failed; container states and logs follow"
      "${COMPOSE[@]}" ps
      "${COMPOSE[@]}" logs --no-color --tail=60
    fi
    step "down -v"
    "${COMPOSE[@]}" down -v --remove-orphans
  fi
  if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    step "stopping dockerd"
    kill "$DOCKERD_PID"
    for _ in $(seq 1 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$DOCKERD_PID" 2>/dev/null
  fi
  # dockerd unmounts its layers when it stops; anything left mounted must not be deleted through
  grep -o " $WORK/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$WORK"
  step "done (status $status)"
  exit "$status"
}
trap cleanup EXIT

for port in 8545 8546 8547; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "compose test: port $port is in use on this machine; docker-compose.yml publishes it" >&2
    exit 1
  fi
done

step "starting dockerd (state in $WORK)"
mkdir -p "$WORK/data" "$WORK/exec"
dockerd --data-root "$WORK/data" --exec-root "$WORK/exec" --pidfile "$WORK/dockerd.pid" \
  --host "$DOCKER_HOST" >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 120); do
  if "$DOCKER" version >/dev/null 2>&1; then break; fi
  if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then break; fi
  sleep 0.5
done
if ! "$DOCKER" version >/dev/null 2>&1; then
  echo "compose test: FAILED: dockerd did not start; its log:" >&2
  tail -n 40 "$WORK/dockerd.log" >&2
  exit 1
fi

step "building the base image (debootstrap minbase bookworm + host node $(node --version))"
MIRROR=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
ROOTFS="$WORK/rootfs"
debootstrap --variant=minbase bookworm "$ROOTFS" "${MIRROR:-http://deb.debian.org/debian}" >"$WORK/debootstrap.log" 2>&1 \
  || { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }
NODE_BIN=$(readlink -f "$(command -v node)")
NPM_DIR=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
mkdir -p "$ROOTFS/usr/local/bin" "$ROOTFS/usr/local/lib/node_modules" "$ROOTFS/etc/ssl/certs"
cp "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
cp -a "$NPM_DIR" "$ROOTFS/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"
cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
# Node's headers, where the official node images have them, for node-gyp (the libsecp256k1 addon):
# without them it would download them, and only the npm registry is reachable here.
NODE_HEADERS="$(dirname "$(dirname "$NODE_BIN")")/include/node"
[ -f "$NODE_HEADERS/node_api.h" ] || { echo "compose test: no Node headers at $NODE_HEADERS" >&2; exit 1; }
mkdir -p "$ROOTFS/usr/local/include"
cp -a "$NODE_HEADERS" "$ROOTFS/usr/local/include/node"
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc "$ROOTFS"/usr/share/man
tar -C "$ROOTFS" -c . | "$DOCKER" import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  -c 'CMD ["node"]' - staccato-base:bookworm >/dev/null
rm -rf "$ROOTFS"
"$DOCKER" run --rm staccato-base:bookworm node --version

step "building the project image (--build-arg NODE_IMAGE=staccato-base:bookworm)"
DOCKER_BUILDKIT=0 "$DOCKER" build --build-arg NODE_IMAGE=staccato-base:bookworm -t staccato:local "$ROOT" \
  >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; exit 1; }
"$DOCKER" image ls staccato:local

# The whole topology with one Compose implementation: up, every healthcheck, the e2e test, down.
compose_run() {
  local name=$1
  step "$name: up -d ($("${COMPOSE[@]}" version --short))"
  COMPOSE_UP=1
  "${COMPOSE[@]}" up -d --no-build

  step "$name: waiting for every healthcheck"
  local SERVICES=(sequencer prover-1 prover-2 fullnode-1 fullnode-2)
  local deadline=$(($(date +%s) + 300))
  while :; do
    local pending=()
    for s in "${SERVICES[@]}"; do
      id=$("${COMPOSE[@]}" ps -q "$s")
      state=$([ -n "$id" ] && "$DOCKER" inspect --format '{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id" || echo "missing/")
      case "$state" in
        running/healthy) ;;
        running/*|created/*|missing/) pending+=("$s:$state") ;;
        *) echo "compose test ($name): $s is $state" >&2; exit 1 ;;
      esac
    done
    [ ${#pending[@]} -eq 0 ] && break
    if [ "$(date +%s)" -gt "$deadline" ]; then echo "compose test ($name): not healthy in time: ${pending[*]}" >&2; exit 1; fi
    sleep 2
  done
  init_id=$("${COMPOSE[@]}" ps -a -q init)
  [ "$("$DOCKER" inspect --format '{{.State.ExitCode}}' "$init_id")" = 0 ]
  "${COMPOSE[@]}" ps
  # The image's deps stage builds the libsecp256k1 addon; the sequencer's start log names it.
  "$DOCKER" logs "$("${COMPOSE[@]}" ps -q sequencer)" 2>&1 | grep -q '"secp256k1":"libsecp256k1 0.5.0 addon"' \
    || { echo "compose test ($name): the sequencer does not recover senders with the libsecp256k1 addon" >&2; exit 1; }

  step "$name: transactions through the published ports (viem)"
  node --import tsx --test packages/devnet/test/compose/compose.e2e.ts

  step "$name: down -v"
  "${COMPOSE[@]}" down -v --remove-orphans
  COMPOSE_UP=0
}

compose_run "docker-compose 1.29"

step "installing Compose v2 (Debian 13's docker-compose package)"
export DOCKER_CONFIG="$WORK/docker-config"
"$ROOT/.ci/compose-v2.sh" "$DOCKER_CONFIG"
COMPOSE=("$DOCKER" compose --project-name staccato-ci)
compose_run "docker compose v2"

step "compose test passed (docker-compose 1.29 and docker compose v2)"
