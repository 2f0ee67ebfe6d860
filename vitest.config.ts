import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests start real servers (livekit-server, the service) per file.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two cores: one file at a time per core keeps real servers from starving each other.
    maxWorkers: 2,
  },
});
