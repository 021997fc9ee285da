# The Staccato daemons in one image: staccato-sequencer, staccato-prover, staccato-fullnode and
# staccato-devnet (whose --init-only writes a devnet's chain config and keys; see docker-compose.yml).
#
#   docker build -t staccato:local .
#   docker run --rm staccato:local node packages/sequencer/bin/staccato-sequencer.js --help
#
# NODE_IMAGE is any Debian-based image with Node 20+ and npm on the PATH; CI passes one it builds
# without a registry (DEVELOPERS.md).
ARG NODE_IMAGE=node:22-bookworm-slim
ARG PNPM_VERSION=10.34.9

# 1. The workspace's manifests alone, so the dependency layer below is rebuilt only when a
#    package.json or the lockfile changes, not on every source edit.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir -p /manifests \
 && cp package.json pnpm-lock.yaml pnpm-workspace.yaml /manifests/ \
 && for p in packages/*/; do mkdir -p "/manifests/$p" && cp "$p/package.json" "/manifests/$p"; done \
 && cp -r packages/common/native /manifests/packages/common/

# 2. Production dependencies with the pinned pnpm (the lockfile must be up to date), and the
#    libsecp256k1 addon (packages/common/native), which pnpm install builds with a C toolchain.
#    Where apt cannot fetch one, the install says so and the daemons use the secp256k1 package.
FROM ${NODE_IMAGE} AS deps
ARG PNPM_VERSION
ENV CI=true
WORKDIR /app
RUN (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 make g++ >/dev/null && rm -rf /var/lib/apt/lists/*) \
 || echo "no C toolchain: the libsecp256k1 addon will not be built"
RUN npm install --global --no-audit --no-fund "pnpm@${PNPM_VERSION}"
COPY --from=manifests /manifests/ ./
RUN pnpm install --frozen-lockfile --prod \
 && rm -rf /root/.cache /root/.local/share/pnpm /root/.npm

# 3. Runtime: dependencies, then sources (TypeScript, run through tsx as in development).
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    STACCATO_LOG_FORMAT=json
WORKDIR /app
# The daemons run as an unprivileged user. Data dirs are created here, owned by it, so the named
# volumes docker-compose.yml mounts on them start out writable.
RUN (id -u node >/dev/null 2>&1 || useradd --create-home --uid 1000 --user-group node) \
 && mkdir -p /data /da /devnet/sequencer /devnet/prover-1 /devnet/prover-2 \
 && chown -R node:node /data /da /devnet
COPY --from=deps /app/ ./
COPY . .
USER node
# libp2p (sequencer 9000, full node 9001, prover 9002), JSON-RPC (8545, 8546), metrics (9545-9547)
EXPOSE 8545 8546 9000 9001 9002 9545 9546 9547
CMD ["node", "packages/sequencer/bin/staccato-sequencer.js", "--help"]
