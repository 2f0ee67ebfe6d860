import { JobConsumer } from "../adapters/nats/job-consumer.js";
import { TRANSCRIBE_JOB_SUBJECT } from "../app/events.js";
import type { AppContext } from "./app-context.js";

/**
 * What a process runs besides answering requests:
 * - `service`: the outbox relay (in a thread of its own, with its NATS
 *   connection; it publishes while this instance holds the relay lease), the ring timer (due calls are
 *   claimed, so each is ended once), reconciliation with LiveKit and the
 *   recording time limit (claimed runs: once per interval for the cluster),
 *   and the transcription worker when TRANSCRIPTION_WORKER is `inline`;
 * - `worker` (`npm run worker`): only the transcription worker. Its events
 *   wait in the shared store for the service's relay, so no event is ever
 *   published by two relays at once.
 */
export type Role = "service" | "worker";

/** Starts the role's background work; disposing it stops all of it, in order, and waits for work in flight. */
export function startBackground(ctx: AppContext, role: Role): AsyncDisposable {
  const { config, logger } = ctx;
  const stops: (() => void | Promise<void>)[] = [];
  let relayStop: (() => Promise<void>) | undefined;

  if (role === "service") {
    const unschedule = ctx.ringDeadlines.subscribe((deadline) => ctx.ringTimer.schedule(deadline));
    ctx.ringTimer.start();
    stops.push(async () => {
      unschedule();
      ctx.ringTimer.stop();
      await ctx.ringTimer.idle();
    });

    // Once per interval for the whole cluster, on whichever instance claims the run.
    if (config.reconcile.intervalSeconds > 0) {
      ctx.schedule.every("reconcile", config.reconcile.intervalSeconds * 1000, () => ctx.reconciler.runOnce());
    }
    // Recordings past RECORDING_MAX_MINUTES are stopped within about a second.
    ctx.schedule.every("recording-limit", 1000, () => ctx.recordings.stopOverdue());
    // Ended calls past CALL_HISTORY_RETENTION_DAYS go, hourly.
    ctx.schedule.every("history-retention", 60 * 60 * 1000, () => ctx.history.deleteExpired());
    stops.push(async () => {
      await ctx.schedule.stop();
      await ctx.reconciler.idle();
    });

    ctx.objectStore?.ensureBucket().catch((err: unknown) => logger.warn({ err }, "could not check/create the recordings bucket"));

    // The relay stops last, so what the work above wrote on its way out is published (or waits in the outbox).
    const unkick = ctx.outboxWritten.subscribe(() => ctx.relay.kick());
    ctx.relay.start();
    relayStop = async () => {
      unkick();
      await ctx.relay.stop();
    };
  }

  const transcription = ctx.transcription;
  if (transcription && (role === "worker" || config.transcription.worker === "inline")) {
    const consumer = new JobConsumer(
      {
        servers: config.nats.servers,
        stream: ctx.jobsStream,
        subject: TRANSCRIBE_JOB_SUBJECT,
        durable: "transcription",
        concurrency: config.transcription.concurrency,
        maxAttempts: config.transcription.maxAttempts,
        ackWaitMs: config.transcription.ackWaitMs,
        retryBaseMs: config.transcription.retryBaseMs,
        logger,
      },
      (payload, attempt, lastAttempt, signal) =>
        transcription.process(String((payload as { recording_id?: unknown }).recording_id), attempt, lastAttempt, signal),
    );
    consumer.start();
    // Stopped first: a job in flight may still write events for the relay to publish.
    stops.unshift(() => consumer.stop());
  }

  let stopped: Promise<void> | undefined;
  return {
    [Symbol.asyncDispose]: () =>
      (stopped ??= (async () => {
        for (const stop of stops) await stop();
        await relayStop?.();
      })()),
  };
}
