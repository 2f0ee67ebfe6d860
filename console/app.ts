/**
 * The ScaiWave Calls web console, served by the service itself at /console
 * (same origin as the REST API). Vanilla TypeScript, bundled by
 * scripts/build-console.mjs with livekit-client inlined: no CDN, no framework.
 */
import { Room, RoomEvent, Track, type RemoteTrack } from "livekit-client";

interface Participant {
  participant_id: string;
  audio_on: boolean;
  video_on: boolean;
}

interface CallState {
  id: string;
  room_id: string;
  type: string;
  status: string;
  end_reason?: string | null;
  participants: Participant[];
}

interface Ticket {
  call_id: string;
  livekit_url: string;
  livekit_token: string;
  livekit_room: string;
}

const POLL_MS = 2000;
const TOKEN_KEY = "scaiwave-console-token";

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from index.html`);
  return el as T;
};

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** The REST API next door: `{"data": …}` or `{"error": {code, message}}`. */
async function api<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const token = sessionStorage.getItem(TOKEN_KEY) ?? "";
  const res = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json().catch(() => ({}))) as { data?: T; error?: { code?: string; message?: string } };
  if (!res.ok || json.error) {
    throw new ApiError(res.status, json.error?.code ?? `HTTP_${res.status}`, json.error?.message ?? res.statusText);
  }
  return json.data as T;
}

/** The `sub` claim, for display only: the service is what verifies the token. */
function subjectOf(token: string): string {
  try {
    const payload = token.split(".")[1] ?? "";
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { sub?: unknown };
    return typeof claims.sub === "string" ? claims.sub : "(unknown user)";
  } catch {
    return "(unreadable token)";
  }
}

function showError(err: unknown): void {
  const el = $("error");
  el.textContent = err instanceof Error ? err.message : String(err);
  el.hidden = false;
}

function clearError(): void {
  $("error").hidden = true;
}

function button(label: string, action: string, callId: string): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.dataset["action"] = action;
  b.dataset["callId"] = callId;
  b.dataset["testid"] = `${action}-${callId}`;
  return b;
}

// --- state -----------------------------------------------------------------

let listTimer: number | undefined;
let currentTimer: number | undefined;
let current: { callId: string; room: Room | undefined } | undefined;

function setMediaState(state: "idle" | "connecting" | "connected" | "disconnected" | "failed", detail = ""): void {
  const el = $("media-state");
  el.dataset["state"] = state;
  el.textContent = detail ? `${state} (${detail})` : state;
}

// --- sign in ---------------------------------------------------------------

function renderSignedIn(): void {
  const token = sessionStorage.getItem(TOKEN_KEY);
  $("sign-in-panel").hidden = token !== null;
  $("signed-in-panel").hidden = token === null;
  $("sign-out").hidden = token === null;
  $("whoami").textContent = token === null ? "" : `signed in as ${subjectOf(token)}`;
  if (token !== null) startListPolling();
}

$("sign-in").addEventListener("click", () => {
  const token = $<HTMLTextAreaElement>("token").value.trim();
  if (!token) return showError(new Error("paste a token first"));
  clearError();
  sessionStorage.setItem(TOKEN_KEY, token);
  renderSignedIn();
});

$("sign-out").addEventListener("click", () => {
  void disconnectMedia();
  stopCurrent();
  sessionStorage.removeItem(TOKEN_KEY);
  if (listTimer !== undefined) clearInterval(listTimer);
  listTimer = undefined;
  renderSignedIn();
});

// --- live calls ------------------------------------------------------------

function startListPolling(): void {
  if (listTimer !== undefined) return;
  void refreshList();
  listTimer = window.setInterval(() => void refreshList(), POLL_MS);
}

async function refreshList(): Promise<void> {
  try {
    renderList(await api<CallState[]>("GET", "/v1/calls"));
  } catch (err) {
    showError(err);
  }
}

function renderList(calls: CallState[]): void {
  $("calls-empty").hidden = calls.length > 0;
  $("calls").hidden = calls.length === 0;
  const rows = calls.map((call) => {
    const tr = document.createElement("tr");
    tr.dataset["callId"] = call.id;
    tr.dataset["testid"] = "call-row";
    tr.dataset["status"] = call.status;
    for (const text of [call.room_id, call.type, call.status, call.participants.map((p) => p.participant_id).join(", ")]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const actions = document.createElement("td");
    const mine = current?.callId === call.id;
    if (!mine) actions.append(button("Join", "join", call.id));
    if (mine) actions.append(button("Leave", "leave", call.id));
    actions.append(button("End", "end", call.id));
    tr.append(actions);
    return tr;
  });
  $("calls-body").replaceChildren(...rows);
}

$("calls-body").addEventListener("click", (ev) => {
  const target = ev.target as HTMLElement;
  const { action, callId } = target.dataset;
  if (!action || !callId) return;
  clearError();
  const run = action === "join" ? join(callId) : action === "leave" ? leave(callId) : end(callId);
  run.catch(showError);
});

$("start-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  clearError();
  const roomId = $<HTMLInputElement>("start-room").value.trim();
  const type = $<HTMLSelectElement>("start-type").value;
  void (async () => {
    const ticket = await api<Ticket>("POST", "/v1/calls/initiate", { room_id: roomId, type });
    await enter(ticket, type === "video");
  })().catch(showError);
});

// --- actions ---------------------------------------------------------------

async function join(callId: string): Promise<void> {
  const ticket = await api<Ticket>("POST", `/v1/calls/${encodeURIComponent(callId)}/join`);
  const call = await api<CallState>("GET", `/v1/calls/${encodeURIComponent(callId)}`);
  await enter(ticket, call.type === "video");
}

async function leave(callId: string): Promise<void> {
  await api<unknown>("POST", `/v1/calls/${encodeURIComponent(callId)}/leave`);
  await disconnectMedia();
  await refreshCurrent();
  stopCurrent();
  current = undefined;
  await refreshList();
}

async function end(callId: string): Promise<void> {
  await api<unknown>("POST", `/v1/calls/${encodeURIComponent(callId)}/end`);
  if (current?.callId === callId) {
    await disconnectMedia();
    await refreshCurrent();
    stopCurrent();
    current = undefined;
  }
  await refreshList();
}

/** Became a participant: show the call, connect the media with the minted token. */
async function enter(ticket: Ticket, video: boolean): Promise<void> {
  if (current && current.callId !== ticket.call_id) await disconnectMedia();
  stopCurrent();
  current = { callId: ticket.call_id, room: undefined };
  $("current").hidden = false;
  $("current-call-id").textContent = ticket.call_id;
  $("current-status").textContent = "";
  $("participants").replaceChildren();
  currentTimer = window.setInterval(() => void refreshCurrent(), POLL_MS);
  void refreshCurrent();
  void refreshList();
  await connectMedia(ticket, video);
}

async function connectMedia(ticket: Ticket, video: boolean): Promise<void> {
  const room = new Room();
  if (current) current.room = room;
  setMediaState("connecting");
  room.on(RoomEvent.Disconnected, (reason) => {
    if (current?.room === room) setMediaState("disconnected", reason === undefined ? "" : String(reason));
  });
  room.on(RoomEvent.TrackSubscribed, (track: RemoteTrack) => {
    if (track.kind === Track.Kind.Audio || track.kind === Track.Kind.Video) $("remote-media").append(track.attach());
  });
  room.on(RoomEvent.TrackUnsubscribed, (track: RemoteTrack) => {
    for (const el of track.detach()) el.remove();
  });
  try {
    await room.connect(ticket.livekit_url, ticket.livekit_token);
    await room.localParticipant.setMicrophoneEnabled(true);
    if (video) await room.localParticipant.setCameraEnabled(true);
    setMediaState("connected", ticket.livekit_room);
  } catch (err) {
    setMediaState("failed", err instanceof Error ? err.message : String(err));
    throw err;
  }
}

async function disconnectMedia(): Promise<void> {
  const room = current?.room;
  if (!room) return;
  await room.disconnect();
  setMediaState("disconnected", "left");
  current = current && { ...current, room: undefined };
}

function stopCurrent(): void {
  if (currentTimer !== undefined) clearInterval(currentTimer);
  currentTimer = undefined;
}

async function refreshCurrent(): Promise<void> {
  if (!current) return;
  const callId = current.callId;
  let call: CallState;
  try {
    call = await api<CallState>("GET", `/v1/calls/${encodeURIComponent(callId)}`);
  } catch (err) {
    return showError(err);
  }
  if (current?.callId !== callId) return;
  $("current-room").textContent = call.room_id;
  const status = $("current-status");
  status.textContent = call.end_reason ? `${call.status} (${call.end_reason})` : call.status;
  status.dataset["status"] = call.status;
  $("participants").replaceChildren(
    ...call.participants.map((p) => {
      const li = document.createElement("li");
      li.dataset["participantId"] = p.participant_id;
      li.dataset["audioOn"] = String(p.audio_on);
      li.dataset["videoOn"] = String(p.video_on);
      li.dataset["testid"] = `participant-${p.participant_id}`;
      li.textContent = `${p.participant_id}: audio ${p.audio_on ? "on" : "off"}, video ${p.video_on ? "on" : "off"}`;
      return li;
    }),
  );
  if (call.status === "ended") {
    stopCurrent();
    await disconnectMedia();
  }
}

renderSignedIn();
