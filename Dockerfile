# pii-gateway container image.
# Node 26 is the current LTS line; better-sqlite3 12.11 (package.json) supports Node 20 through 26.
# Build: docker build -t pii-gateway .
# Run:   docker run --rm -p 8080:8080 -e PII_GATEWAY_KEYS_FILE=/run/secrets/pii-gateway-keys.json \
#          -v pii-gateway-data:/app/data pii-gateway
ARG NODE_IMAGE=node:26-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 compiles its native addon when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    PII_GATEWAY_LISTEN=0.0.0.0:8080 \
    PII_GATEWAY_VAULT_API_LISTEN=127.0.0.1:8081 \
    PII_GATEWAY_ADMIN_LISTEN=0.0.0.0:9090 \
    PII_GATEWAY_DATA_DIR=/app/data \
    PII_GATEWAY_DEV_KEYS=false
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY rules ./rules
COPY schema ./schema
RUN mkdir -p /app/data && chown node:node /app/data
USER node
# The vault API stays on the container's loopback until caller authentication (mTLS/JWT) is configured:
# whoever reaches it can detokenize. Expose it deliberately with PII_GATEWAY_VAULT_API_LISTEN=0.0.0.0:8081.
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:9090/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["start"]
