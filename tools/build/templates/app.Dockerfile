# syntax=docker/dockerfile:1
# Image of {{project}} ({{root}}). Generated from tools/build/templates/app.Dockerfile by
# `node tools/build/bin/carve-build.js dockerfile {{project}} --write`: edit the template, not this file.
#
# Build from the repository root, after the build target (the context is the build output only,
# see /.dockerignore):
#   npx nx run {{project}}:build
#   docker build -f {{root}}/Dockerfile -t carve/{{project}}:$(git rev-parse --short=12 HEAD) .
#
# dist/{{root}}/ is laid out like /app: package.json + package-lock.json (only what the compiled
# code requires), {{root}}/dist/ (the compiled app), node_modules/@carve/ (its workspace libraries).{{bundled}}
# Checked against the build output by tools/build/src/dockerfile-lint.ts.

# Base image pinned by digest (the multi-arch index of node:24-bookworm-slim): a rebuild gets the
# same bytes; a newer one comes by changing the digest here (and regenerating the Dockerfiles).

# ---- production dependencies, from the pruned lockfile
FROM node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY dist/{{root}}/package.json dist/{{root}}/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime: node, the production node_modules and the compiled app; nothing else
FROM node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d AS runtime
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
# A fixed non-root user (the charts run every container as 10001:10001); npm and corepack
# are not needed at runtime, so they go.
RUN groupadd --system --gid 10001 carve \
 && useradd --system --uid 10001 --gid carve --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin carve \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
COPY --from=deps /app/node_modules ./node_modules
COPY dist/{{root}}/package.json ./package.json
COPY dist/{{root}}/node_modules/@carve ./node_modules/@carve
COPY dist/{{root}}/{{rootTop}} ./{{rootTop}}
USER 10001:10001
EXPOSE {{port}}
# Exec form: node is PID 1 and gets SIGTERM itself (the app drains, then exits).
CMD ["node", "{{root}}/dist/main.js"]
