import { defineConfig } from "vitest/config";

// Three tiers. `vitest run --project unit` (or a path) runs one; the real
// servers of the integration tier start only when one of its files runs.
export default defineConfig({
  test: {
    pool: "forks",
    // Two cores: one file at a time per core keeps real servers from starving each other.
    maxWorkers: 2,
    // Generous, for a machine whose cores are busy with other work: a test waits
    // for events, never for a timeout; these only bound a hang.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      // Pure logic, SQLite in temp dirs: no processes, no network.
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      // The RPC handlers driven in memory (Connect's router transport) on a real store: no servers.
      { extends: true, test: { name: "middle", include: ["test/middle/**/*.test.ts"] } },
      // Real programs on loopback; one livekit-server and one MinIO for the whole run.
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "test/e2e/**/*.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
        },
      },
    ],
  },
});
