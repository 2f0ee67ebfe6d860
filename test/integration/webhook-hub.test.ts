import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startWebhookHub, subscribeToWebhooks, type WebhookHub } from "../support/webhook-hub.js";
import { startWebhookRecorder } from "../support/webhook-recorder.js";

// The hub that fans the shared livekit-server's webhooks out to the services subscribed to it.

let hub: WebhookHub;
let a: Awaited<ReturnType<typeof startWebhookRecorder>>;
let b: Awaited<ReturnType<typeof startWebhookRecorder>>;

beforeAll(async () => {
  [hub, a, b] = await Promise.all([startWebhookHub(), startWebhookRecorder(), startWebhookRecorder()]);
});

afterAll(async () => {
  await hub?.close();
  await Promise.all([a?.close(), b?.close()]);
});

/** As LiveKit posts a webhook: its JSON body and the signature in Authorization (no "Bearer"). */
async function post(event: string, n: number): Promise<{ body: string; authorization: string }> {
  const body = JSON.stringify({ event, room: { name: `room-${n}` }, id: `EV_${n}` });
  const authorization = `signature-of-${n}`;
  const res = await fetch(hub.webhookUrl, {
    method: "POST",
    headers: { "content-type": "application/webhook+json", authorization },
    body,
  });
  expect(res.status).toBe(200);
  return { body, authorization };
}

describe("webhook hub", () => {
  it("forwards each webhook, body and Authorization byte for byte, to every subscriber in order; unsubscribed gets nothing more", async () => {
    const subA = await subscribeToWebhooks(hub.url, a.url);
    const subB = await subscribeToWebhooks(hub.url, b.url);
    const sent: { body: string; authorization: string }[] = [];
    for (let n = 0; n < 20; n++) sent.push(await post(n % 2 ? "participant_joined" : "participant_left", n));
    const received = (r: typeof a) => r.recorded.map(({ body, authorization }) => ({ body, authorization }));
    await vi.waitFor(() => expect(received(a)).toEqual(sent));
    await vi.waitFor(() => expect(received(b)).toEqual(sent));

    await subB.unsubscribe();
    const last = await post("room_finished", 20);
    await vi.waitFor(() => expect(received(a)).toEqual([...sent, last]));
    // What reached a was sent after b left: b has nothing new.
    expect(received(b)).toEqual(sent);
    await subA.unsubscribe();
  });

  it("refuses a subscription without a usable URL", async () => {
    await expect(subscribeToWebhooks(hub.url, "not a url")).rejects.toThrow(/webhook hub refused the subscription \(400\)/);
  });
});
