# custody runs from its TypeScript sources through tsx (a runtime dependency), so the image needs no build step.
FROM node:22-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY bin ./bin
COPY src ./src
COPY schemas ./schemas
USER node
ENTRYPOINT ["node", "bin/custody.js"]
