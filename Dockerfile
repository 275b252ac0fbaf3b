# Production image: API and workers as two commands of one image.
#   docker build -t moral-savings .
#   docker run -v msl-data:/data -e MONGODB_URI=... -e REDIS_URL=... \
#              -e JWT_PRIVATE_KEY=... -e JWT_KEY_ID=... -e EXPORT_SIGNING_KEY=... -e EXPORT_SIGNING_KEY_ID=... \
#              -e METRICS_TOKEN=... moral-savings                                   # API
#   docker run -v msl-data:/data ... --health-cmd 'node dist/workers/healthcheck.js' \
#              moral-savings node dist/workers/main.js                               # workers
# API and workers must share the data volume: the workers write credit exports into it and the
# API serves them. The embedded FerretDB is for laptops and CI; production uses MongoDB 6+.
#
# The steps below are tested without Docker by test/image/image.check.ts (CI runs it): npm ci with
# npm 10 (the one in this base image), the build, npm prune, and the compiled service run as an
# unprivileged user with a read-only app folder and a writable data folder.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY config ./config
COPY src ./src
COPY workers ./workers
COPY web ./web
RUN npx tsc -p tsconfig.build.json && node web/build.mjs && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# DATA_DIR is the one place the service writes (credit exports, generated files); CREDIT_EXPORT_DIR
# defaults to DATA_DIR/exports. The app folder stays root's and read-only for the service.
ENV NODE_ENV=production APP_MODE=production PORT=3000 START_WORKERS=false DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
VOLUME ["/data"]
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/main.js"]
