# One image for every service; docker-compose.yml picks the entry point per service.
FROM node:20-bookworm-slim
RUN npm install -g pnpm && apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json tsconfig.json .taprc ./
COPY packages/ packages/
COPY services/ services/
COPY migrations/ migrations/
COPY scripts/ scripts/
COPY deploy/ deploy/
RUN pnpm install --frozen-lockfile && pnpm build
ENV NODE_ENV=production HOST=0.0.0.0 LOG_FORMAT=json
# nats-auth writes the NATS users here (a named volume takes this directory's owner).
RUN mkdir -p /nats-auth && chown node:node /nats-auth
USER node
