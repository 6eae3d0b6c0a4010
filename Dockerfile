# One production image for every service; docker-compose.yml picks the entry point per service.
# Three stages: build (everything, typechecked and bundled), deps (production dependencies only),
# and the runtime, which holds compiled JavaScript, those dependencies, the migrations and nothing
# else: no devDependencies, no TypeScript loader, no compiler. test/production-tree.test.ts runs
# the same tree (pnpm bundle + the same install) with plain node, so CI checks it without Docker.

FROM node:20-bookworm-slim AS build
RUN npm install -g pnpm
WORKDIR /src
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json tsconfig.json ./
# pnpm applies these patches of dependencies at install (pnpm-workspace.yaml patchedDependencies).
COPY patches/ patches/
COPY packages/ packages/
COPY services/ services/
COPY scripts/ scripts/
COPY migrations/ migrations/
COPY deploy/ deploy/
# The console's web app is built into services/console/web/dist, which the bundle carries.
RUN pnpm install --frozen-lockfile --ignore-scripts && pnpm build \
 && pnpm --filter @paylinks/console-web build \
 && pnpm bundle --out /out

FROM node:20-bookworm-slim AS deps
RUN npm install -g pnpm
WORKDIR /app
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY patches/ patches/
# Only the manifests: the workspace's dependency graph, without its sources.
COPY packages/commands/package.json packages/commands/
COPY packages/contracts/package.json packages/contracts/
COPY packages/dojo-client/package.json packages/dojo-client/
COPY packages/event-store/package.json packages/event-store/
COPY packages/merchants/package.json packages/merchants/
COPY packages/messaging/package.json packages/messaging/
COPY packages/service-kit/package.json packages/service-kit/
COPY services/dojo-sandbox/package.json services/dojo-sandbox/
COPY services/event-recorder/package.json services/event-recorder/
COPY services/link-issuer/package.json services/link-issuer/
COPY services/projector/package.json services/projector/
COPY services/webhook-ingest/package.json services/webhook-ingest/
COPY services/webhook-dispatch/package.json services/webhook-dispatch/
COPY services/console/package.json services/console/
# The web app's manifest has devDependencies only (nothing installed from it), but pnpm-workspace.yaml
# names the package, so a frozen install needs it.
COPY services/console/web/package.json services/console/web/
# Hoisted: a bundle imports its packages' npm dependencies from one node_modules at the root.
RUN pnpm install --prod --frozen-lockfile --config.node-linker=hoisted --ignore-scripts \
 && find node_modules/@paylinks -maxdepth 1 -type l -delete

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 LOG_FORMAT=json PORT=3000
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules/ node_modules/
COPY --from=build --chown=root:root /out/ ./
# nats-auth writes the NATS users here (a named volume takes this directory's owner).
RUN mkdir -p /nats-auth && chown node:node /nats-auth
USER node
HEALTHCHECK --interval=5s --timeout=3s --retries=12 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# docker-compose.yml names each service's entry: services/<name>/bundle/server.mjs.
CMD ["node", "services/link-issuer/bundle/server.mjs"]
