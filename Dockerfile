# Compiled once at build time (npm run build): each role then starts without compiling its TypeScript, and runs
# ~50 MB smaller than through tsx (127 against 181 MB RSS with every module loaded, measured on Node 22).
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
RUN npm run build

FROM node:22-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY schemas ./schemas
COPY --from=build /app/dist ./dist
USER node
ENTRYPOINT ["node", "bin/custody.js"]
