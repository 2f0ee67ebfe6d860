import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeUdpPort } from "./ports.js";
import { httpReady, onFreePorts, startProcess, testProgram } from "./process-fixture.js";

/** Where a livekit-server answers, and the key pair it knows (all a service needs). */
export interface LiveKitEndpoint {
  readonly wsUrl: string; // ws://127.0.0.1:<port>
  readonly httpUrl: string; // http://127.0.0.1:<port>
  readonly apiKey: string;
  readonly apiSecret: string;
}

/** A real livekit-server on loopback, private to the caller. */
export interface LiveKitServer extends LiveKitEndpoint, AsyncDisposable {
  readonly logPath: string;
  stop(): Promise<void>;
}

export interface LiveKitServerOptions {
  webhookUrls?: string[];
  apiKey?: string;
  apiSecret?: string; // livekit-server logs an error for secrets under 32 chars
}

const VERSION = "v1.13.5";

export const liveKitBinaryPath = (): string => testProgram("livekit-server", VERSION);

export async function startLiveKitServer(opts: LiveKitServerOptions = {}): Promise<LiveKitServer> {
  const binary = liveKitBinaryPath();
  const apiKey = opts.apiKey ?? "testkey";
  const apiSecret = opts.apiSecret ?? randomBytes(32).toString("hex");
  const dir = await mkdtemp(join(tmpdir(), "livekit-server-"));
  const logPath = join(dir, "livekit-server.log");
  try {
    return await onFreePorts(1, async ([httpPort]) => {
      const config = {
        port: httpPort,
        bind_addresses: ["127.0.0.1"],
        log_level: "info",
        keys: { [apiKey]: apiSecret },
        rtc: {
          // 0 disables ICE/TCP (not needed on loopback). Left out, it defaults to
          // 7881 on all interfaces, ignoring bind_addresses, and collides.
          tcp_port: 0,
          udp_port: await freeUdpPort(), // one UDP port, muxed for all peers
          node_ip: "127.0.0.1", // a set node_ip also keeps it from using public STUN servers
          use_external_ip: false,
          // Media stays on loopback, even where the host has other interfaces.
          enable_loopback_candidate: true,
          ips: { includes: ["127.0.0.1/32"] },
        },
        ...(opts.webhookUrls?.length ? { webhook: { api_key: apiKey, urls: opts.webhookUrls } } : {}),
      };
      const httpUrl = `http://127.0.0.1:${httpPort}`;
      const run = await startProcess({
        name: "livekit-server",
        command: binary,
        // JSON is valid YAML, and livekit-server parses --config-body strictly.
        args: ["--config-body", JSON.stringify(config)],
        logPath,
        ready: httpReady(`${httpUrl}/`),
        // livekit-server answers its health check up to ~100 ms before it marks itself
        // running, and a SIGTERM in that window is silently dropped (LivekitServer.Stop
        // returns early while !running).
        minUptimeMs: 300,
        // SIGTERM waits for participants to leave; a second SIGTERM forces it.
        stopSignals: [
          { signal: "SIGTERM", waitMs: 1_000 },
          { signal: "SIGTERM", waitMs: 4_000 },
        ],
      });
      let stopping: Promise<void> | undefined;
      const stop = () =>
        (stopping ??= (async () => {
          await run.stop();
          await rm(dir, { recursive: true, force: true });
        })());
      return { wsUrl: `ws://127.0.0.1:${httpPort}`, httpUrl, apiKey, apiSecret, logPath, stop, [Symbol.asyncDispose]: stop };
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
