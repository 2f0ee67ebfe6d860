import type { VerifiedWebhook, WebhookIngest } from "../app/webhooks.js";
import type { Logger } from "../app/ports.js";
import { CallError, CallErrorCode } from "../domain/errors.js";
import { asCallError, sendCallError } from "./error-catalogue.js";
import { sendJson, type NodeRequest, type NodeResponse } from "./http-types.js";
import { readBody } from "./rest/body.js";

export const WEBHOOK_PATH = "/v1/calls/webhook";

export interface WebhookVerifier {
  verify(rawBody: Buffer, authorization: string | undefined): Promise<VerifiedWebhook>;
}

/**
 * `POST /v1/calls/webhook`: LiveKit's signed callbacks. No bearer token: the
 * signature over the raw body is the authentication. Answers 200 only after
 * the change is committed, so a failure makes LiveKit retry.
 */
export class WebhookEndpoint {
  constructor(
    private readonly options: {
      readonly verifier: WebhookVerifier;
      readonly ingest: WebhookIngest;
      readonly logger: Logger;
      readonly maxBodyBytes: number;
      /** Told each webhook's outcome (processed, duplicate, ignored, rejected, failed). */
      readonly onOutcome?: (outcome: string) => void;
      /** Resolves once what the webhook read is committed (group commit); its change is committed when ingest resolves. */
      readonly settle?: () => Promise<void>;
    },
  ) {}

  /** Answers one delivery; `requestId` names it (X-Request-Id) in its logs and in the events it causes. */
  async handle(req: NodeRequest, res: NodeResponse, requestId: string): Promise<void> {
    try {
      if (req.method !== "POST") {
        res.setHeader("allow", "POST");
        throw new CallError(CallErrorCode.MethodNotAllowed, `${req.method ?? "?"} is not allowed on ${WEBHOOK_PATH}; use POST`);
      }
      const body = await readBody(req, this.options.maxBodyBytes);
      const webhook = await this.options.verifier.verify(body, req.headers.authorization);
      const outcome = await this.options.ingest.ingest(webhook, requestId);
      // LiveKit retries until it gets a 2xx: answer only once the change, and the state it was based on, are committed.
      await this.options.settle?.();
      this.options.onOutcome?.(outcome);
      const { notice } = webhook;
      const room = "room" in notice ? notice.room : undefined;
      this.options.logger.info({ webhookId: webhook.id, notice: notice.kind, room, outcome, requestId }, "webhook");
      sendJson(res, 200, { data: { outcome } });
    } catch (err) {
      const error = asCallError(err, this.options.logger, requestId);
      this.options.onOutcome?.(error.code === CallErrorCode.Unauthenticated ? "rejected" : "failed");
      if (error.code === CallErrorCode.Unauthenticated) {
        // The reason (expired, bad signature, checksum) without the token or the body.
        const reason = error.cause instanceof Error ? error.cause.message : undefined;
        this.options.logger.warn({ reason, remote: req.socket.remoteAddress, requestId }, "webhook rejected");
      }
      sendCallError(res, error);
    }
  }
}
