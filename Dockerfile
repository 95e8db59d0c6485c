# syntax=docker/dockerfile:1
# rce-handover relay. Build: docker build -t rce-relay .   Run: see README "Deploy".
# test/integration/image.test.ts replays the stages below (build, prod-deps, runtime) without a
# container daemon: keep the three in step with it.
ARG NODE_VERSION=20

# 1. build: compile TypeScript (contract/ + relay/src/) to dist/ with the dev dependencies.
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY contract ./contract
COPY relay/src ./relay/src
RUN npm run build

# 2. prod-deps: runtime dependencies only. better-sqlite3 installs its prebuilt binary, or
# compiles with the toolchain of this full image (the slim runtime image has none).
FROM node:${NODE_VERSION}-bookworm AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# 3. runtime: plain JavaScript on a slim image, as the unprivileged `node` user of the base image.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# The admin listener (/readyz, /metrics) stays on loopback unless ADMIN_HOST says otherwise:
# the HEALTHCHECK below asks it from inside the container.
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0 ADMIN_PORT=8081
WORKDIR /app
COPY package.json package-lock.json ./
# `npm start` works here too: its prestart step sees no sources and never builds.
COPY scripts ./scripts
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# SQLite (the default STORE_URL, sqlite:./data/relay.db) lives here: mount a persistent volume.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
# 8080: Engage and the extension. 8081: admin (/readyz, /metrics); reachable from outside the
# container only with ADMIN_HOST=0.0.0.0, and never to be published to the internet.
EXPOSE 8080 8081
# Readiness (store reachable) on the admin listener, asked from inside the container (loopback
# works whatever ADMIN_HOST is: 127.0.0.1 or 0.0.0.0).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.ADMIN_PORT||8081)+'/readyz').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node itself is PID 1 (exec form, no npm or shell in between): the relay's own SIGTERM handler
# drains and exits 0 within 10 s. It starts no child processes, so there are no zombies to reap;
# `docker run --init` adds tini if you want one anyway.
STOPSIGNAL SIGTERM
CMD ["node", "dist/relay/src/main.js", "start"]
