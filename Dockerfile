# Production image: API and workers as two commands of one image.
#   docker build -t moral-savings .
#   docker run -e MONGODB_URI=... -e REDIS_URL=... -e APP_MODE=production \
#              -e JWT_PRIVATE_KEY=... -e JWT_KEY_ID=... moral-savings            # API
#   docker run ... moral-savings node dist/workers/main.js                     # workers
# The embedded FerretDB is for laptops and CI; production uses MongoDB 6+ (replica set).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY config ./config
COPY src ./src
COPY workers ./workers
COPY web ./web
RUN npx tsc -p tsconfig.build.json && node web/build.mjs && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production APP_MODE=production PORT=3000 START_WORKERS=false
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/main.js"]
