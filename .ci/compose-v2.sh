#!/usr/bin/env bash
# Installs Docker Compose v2 (the `docker compose` CLI plugin) from Debian's own archive, for a
# machine whose apt sources are bookworm (which ships only docker-compose 1.29): Debian 13
# (trixie) packages Compose v2 as `docker-compose`, a static Go binary that needs only libc.
# The download is checked the way apt checks it: the suite's InRelease against Debian's archive
# keyring (gpgv), the Packages index against InRelease's SHA256, the .deb against the index's.
# Usage: compose-v2.sh <dir>  → <dir>/cli-plugins/docker-compose; use DOCKER_CONFIG=<dir>.
set -euo pipefail
DEST=${1:?usage: compose-v2.sh <docker-config dir>}
SUITE=trixie
MIRROR=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
ARCH=$(dpkg --print-architecture)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

curl -fsS "$MIRROR/dists/$SUITE/InRelease" -o "$TMP/InRelease"
gpgv --keyring /usr/share/keyrings/debian-archive-keyring.gpg "$TMP/InRelease" 2>"$TMP/gpgv.log" \
  || { cat "$TMP/gpgv.log" >&2; echo "compose-v2: $SUITE InRelease does not verify" >&2; exit 1; }
INDEX="main/binary-$ARCH/Packages.xz"
want=$(awk -v f="$INDEX" '/^SHA256:/{s=1; next} /^[A-Za-z]/{s=0} s && $3 == f {print $1}' "$TMP/InRelease")
[ -n "$want" ] || { echo "compose-v2: $INDEX not listed in $SUITE InRelease" >&2; exit 1; }
curl -fsS "$MIRROR/dists/$SUITE/$INDEX" -o "$TMP/Packages.xz"
echo "$want  $TMP/Packages.xz" | sha256sum -c --quiet -

read -r file sha < <(xz -dc "$TMP/Packages.xz" | awk '
  /^Package: docker-compose$/ {p=1}
  p && /^Filename:/ {f=$2}
  p && /^SHA256:/ {s=$2}
  p && /^$/ {print f, s; exit}')
[ -n "$file" ] && [ -n "$sha" ] || { echo "compose-v2: no docker-compose in $SUITE" >&2; exit 1; }
curl -fsS "$MIRROR/$file" -o "$TMP/compose.deb"
echo "$sha  $TMP/compose.deb" | sha256sum -c --quiet -
dpkg-deb -x "$TMP/compose.deb" "$TMP/root"
bin=$(find "$TMP/root" -type f -name docker-compose -perm -u+x | head -n1)
[ -n "$bin" ] || { echo "compose-v2: the package holds no docker-compose binary" >&2; exit 1; }
mkdir -p "$DEST/cli-plugins"
install -m 0755 "$bin" "$DEST/cli-plugins/docker-compose"
echo "$DEST/cli-plugins/docker-compose ($(basename "$file"))"
