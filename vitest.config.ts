import { defineConfig } from "vitest/config";

// The integration tests that touch the store run a second time on PostgreSQL.
const onBothStores = [
  "lifecycle",
  "events",
  "end-call-race",
  "webhooks-livekit",
  "webhooks-chaos",
  "webhooks-forged",
  "recordings",
  "transcription",
  "shutdown",
  "event-durability",
  "ringing",
].map((name) => `test/integration/${name}.test.ts`);

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
      // The same files, each service on its own database of the run's PostgreSQL (test/support/service.ts).
      {
        extends: true,
        test: {
          name: "integration-postgresql",
          include: onBothStores,
          env: { TEST_STORE: "postgresql" },
          globalSetup: ["test/support/global-setup.ts"],
        },
      },
    ],
  },
});
