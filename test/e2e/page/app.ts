// Browser side of test/e2e/browser-connect.test.ts: bundled by esbuild at test
// time (test/support/browser.ts) and run in headless Chromium, so the calls go
// through the browser's fetch, CORS and all, exactly as ScaiWave's web app does.
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { CallsService, CallStatus, CallType, EndReason, type Call } from "../../../gen/scaiwave/calls/v1/calls_pb.js";

export type Protocol = "connect" | "grpc-web";

export interface RunCallInput {
  readonly baseUrl: string;
  readonly protocol: Protocol;
  readonly aliceToken: string;
  readonly bobToken: string;
  readonly roomId: string;
}

/** Plain JSON (it crosses from the page to the test through page.evaluate). */
export interface RunCallSummary {
  readonly protocol: Protocol;
  readonly callId: string;
  readonly livekitRoom: string;
  readonly joinedRoom: string;
  /** Status after initiate, after join, after end, and of the get after end. */
  readonly statuses: { initiated: string; joined: string; ended: string; gotAfterEnd: string };
  readonly participantsWhileActive: string[];
  readonly endReason: string;
  /** GetCall of a call that does not exist. */
  readonly unknownCall: { code: string; reason: string | undefined };
}

/** What the page puts on window for the test to call. */
export interface PageGlobals {
  runCall(input: RunCallInput): Promise<RunCallSummary>;
}

// The few DOM APIs the page uses, declared here rather than with lib "dom":
// tsconfig.json type-checks src/ and test/ as one program, and the DOM lib
// there would leak browser globals into Node code.
declare const document: {
  createElement(tag: "pre"): { textContent: string | null };
  getElementById(id: string): { append(node: unknown): void } | null;
};

// A well-formed id (`call-` + 26 Crockford base32 chars) that no call has.
const UNKNOWN_CALL_ID = "call-00000000000000000000000000";

function transportFor(protocol: Protocol, baseUrl: string): Transport {
  return protocol === "connect" ? createConnectTransport({ baseUrl }) : createGrpcWebTransport({ baseUrl });
}

const status = (call: Call | undefined) => CallStatus[call?.status ?? CallStatus.UNSPECIFIED];

async function runCall({ baseUrl, protocol, aliceToken, bobToken, roomId }: RunCallInput): Promise<RunCallSummary> {
  const client = createClient(CallsService, transportFor(protocol, baseUrl));
  const alice = { headers: { authorization: `Bearer ${aliceToken}` } };
  const bob = { headers: { authorization: `Bearer ${bobToken}` } };

  const initiated = await client.initiateCall({ roomId, type: CallType.VIDEO }, alice);
  const { callId } = initiated;
  const ringing = (await client.getCall({ callId }, alice)).call;
  const joined = await client.joinCall({ callId }, bob);
  const active = (await client.getCall({ callId }, alice)).call;
  const ended = (await client.endCall({ callId }, alice)).call;
  const afterEnd = (await client.getCall({ callId }, alice)).call;

  let unknownCall: RunCallSummary["unknownCall"] = { code: "ok", reason: undefined };
  try {
    await client.getCall({ callId: UNKNOWN_CALL_ID }, alice);
  } catch (err) {
    // ConnectError.from keeps the details, which both protocols carry (Connect in
    // the JSON error body, gRPC-web in the grpc-status-details-bin trailer).
    const e = ConnectError.from(err);
    unknownCall = { code: codeName(e), reason: e.findDetails(ErrorInfoSchema)[0]?.reason };
  }

  const summary: RunCallSummary = {
    protocol,
    callId,
    livekitRoom: initiated.livekitRoom,
    joinedRoom: joined.livekitRoom,
    statuses: { initiated: status(ringing), joined: status(active), ended: status(ended), gotAfterEnd: status(afterEnd) },
    participantsWhileActive: (active?.participants ?? []).map((p) => p.participantId).sort(),
    endReason: EndReason[afterEnd?.endReason ?? EndReason.UNSPECIFIED],
    unknownCall,
  };
  show(summary);
  return summary;
}

/** Connect's wire name of the code (not_found), as the other tests compare it. */
function codeName(e: ConnectError): string {
  // Code is a numeric enum; its name is CamelCase (NotFound → not_found).
  return (Code[e.code] ?? String(e.code)).replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** The summary as text on the page, so the screenshot shows what happened. */
function show(summary: RunCallSummary): void {
  const pre = document.createElement("pre");
  pre.textContent = JSON.stringify(summary, null, 2);
  document.getElementById("results")?.append(pre);
}

(globalThis as unknown as PageGlobals).runCall = runCall;
