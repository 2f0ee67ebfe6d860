import { connect } from "nats";

export interface StoredEvent {
  readonly seq: number;
  readonly subject: string;
  /** The Nats-Msg-Id header: the event id. */
  readonly msgId: string;
  readonly callId: string;
}

/** Every message in a JetStream stream, in stream order (the ground truth of what was published). */
export async function readStream(url: string, stream: string): Promise<StoredEvent[]> {
  const nc = await connect({ servers: url, name: "test-stream-reader" });
  try {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(stream);
    const out: StoredEvent[] = [];
    if (info.state.messages === 0) return out;
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const msg = await jsm.streams.getMessage(stream, { seq });
      const envelope = JSON.parse(new TextDecoder().decode(msg.data)) as { id: string; call_id: string };
      out.push({ seq, subject: msg.subject, msgId: msg.header.get("Nats-Msg-Id"), callId: envelope.call_id });
      if (envelope.id !== out.at(-1)?.msgId) throw new Error(`message ${seq}: envelope id ${envelope.id} != Nats-Msg-Id`);
    }
    return out;
  } finally {
    await nc.close();
  }
}
