# syntax=docker/dockerfile:1
# The kopiashare image: `kopiashare controller` by default, any other verb by argument
# (docker run --rm ghcr.io/kopiashare/kopiashare:<version> lint --repo /repo).
#
#   docker build -t ghcr.io/kopiashare/kopiashare:$(node -p 'require("./package.json").version') .
#
# Two stages: the builder compiles TypeScript with the dev dependencies, then drops them; the runtime
# stage is distroless Node.js 20 (no shell, no package manager) running as the nonroot user (65532),
# with only dist/, bin/, package.json and the production node_modules.

FROM node:20-bookworm-slim AS builder
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would compile before the sources are copied
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM gcr.io/distroless/nodejs20-debian12:nonroot AS runtime
WORKDIR /app
COPY --from=builder /src/package.json ./package.json
COPY --from=builder /src/node_modules ./node_modules
COPY --from=builder /src/dist ./dist
COPY --from=builder /src/bin ./bin
ENV NODE_ENV=production
USER 65532:65532
# the controller's /healthz, /readyz and /metrics (--health-port)
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "/app/bin/kopiashare.js"]
CMD ["controller"]
