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

interface Invitee {
  user_id: string;
  /** ringing, answered, rejected, missed, busy or canceled. */
  state: string;
  ring_deadline: string | null;
}

interface CallState {
  id: string;
  room_id: string;
  type: string;
  status: string;
  end_reason?: string | null;
  participants: Participant[];
  invitees: Invitee[];
}

interface HistoryEntry {
  call_id: string;
  room_id: string;
  type: string;
  status: string;
  direction: "outgoing" | "incoming" | null;
  /** answered, missed, declined, busy, canceled; null while it still rings. */
  outcome: string | null;
  started_at: string;
  /** Proto JSON duration ("12.5s"); null while the call is live. */
  duration: string | null;
  participant_count: number;
  missed_unseen: boolean;
}

interface HistoryPage {
  entries: HistoryEntry[];
  next_cursor: string;
  unseen_missed_count: number;
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
  if (token !== null) {
    startListPolling();
    refreshHistory().catch(showError);
  }
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
    await refreshHistory();
  } catch (err) {
    showError(err);
  }
}

// --- call history ----------------------------------------------------------

/** Older pages the user asked for stay shown; the first page is refreshed with the list. */
let olderEntries: HistoryEntry[] = [];
let olderCursor = "";

async function refreshHistory(): Promise<void> {
  const first = await api<HistoryPage>("GET", "/v1/calls/history?page_size=20");
  const badge = $("unseen-missed");
  badge.textContent = String(first.unseen_missed_count);
  badge.hidden = first.unseen_missed_count === 0;
  $("mark-seen").hidden = first.unseen_missed_count === 0;
  const shownIds = new Set(first.entries.map((e) => e.call_id));
  const entries = [...first.entries, ...olderEntries.filter((e) => !shownIds.has(e.call_id))];
  const cursor = olderEntries.length > 0 ? olderCursor : first.next_cursor;
  renderHistory(entries, cursor);
}

function renderHistory(entries: HistoryEntry[], nextCursor: string): void {
  $("history-empty").hidden = entries.length > 0;
  $("history").hidden = entries.length === 0;
  const older = $("history-older");
  older.hidden = nextCursor === "";
  older.dataset["cursor"] = nextCursor;
  $("history-body").replaceChildren(
    ...entries.map((entry) => {
      const tr = document.createElement("tr");
      tr.dataset["testid"] = "history-row";
      tr.dataset["callId"] = entry.call_id;
      tr.dataset["outcome"] = entry.outcome ?? "ringing";
      if (entry.outcome === "missed") tr.classList.add("missed");
      const cells = [
        entry.direction === "outgoing" ? "↗" : "↙",
        new Date(entry.started_at).toLocaleString(),
        entry.room_id,
        entry.type,
        (entry.outcome ?? "ringing") + (entry.missed_unseen ? " (new)" : ""),
        entry.duration === null ? "live" : `${Math.round(Number.parseFloat(entry.duration))} s`,
        String(entry.participant_count),
      ];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }),
  );
}

$("history-older").addEventListener("click", () => {
  const cursor = $("history-older").dataset["cursor"] ?? "";
  if (!cursor) return;
  void (async () => {
    const page = await api<HistoryPage>("GET", `/v1/calls/history?page_size=20&cursor=${encodeURIComponent(cursor)}`);
    olderEntries = [...olderEntries, ...page.entries];
    olderCursor = page.next_cursor;
    await refreshHistory();
  })().catch(showError);
});

$("mark-seen").addEventListener("click", () => {
  void (async () => {
    await api<unknown>("POST", "/v1/calls/history/seen", {});
    await refreshHistory();
  })().catch(showError);
});

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
  renderInvitees(call);
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

// --- ringing: who was rung, and ringing them again ----------------------------

function renderInvitees(call: CallState): void {
  const live = call.status !== "ended";
  $("ring-again").hidden = !live;
  $("invitees").replaceChildren(
    ...call.invitees.map((i) => {
      const li = document.createElement("li");
      li.dataset["testid"] = `invitee-${i.user_id}`;
      li.dataset["state"] = i.state;
      li.textContent = `${i.user_id}: ${i.state} `;
      // Someone whose phone stopped without them in the call can be rung again.
      if (live && i.ring_deadline === null && i.state !== "answered") {
        const ring = document.createElement("button");
        ring.type = "button";
        ring.textContent = "Ring";
        ring.dataset["userId"] = i.user_id;
        ring.dataset["testid"] = `ring-${i.user_id}`;
        li.append(ring);
      }
      return li;
    }),
  );
}

/** Rings `userIds`, or (none) every member of the room who is neither in the call nor ringing. */
async function ringAgain(userIds: string[]): Promise<void> {
  if (!current) return;
  await api<unknown>("POST", `/v1/calls/${encodeURIComponent(current.callId)}/ring`, { user_ids: userIds });
  await refreshCurrent();
}

$("ring-again").addEventListener("click", () => {
  clearError();
  ringAgain([]).catch(showError);
});

$("invitees").addEventListener("click", (ev) => {
  const { userId } = (ev.target as HTMLElement).dataset;
  if (!userId) return;
  clearError();
  ringAgain([userId]).catch(showError);
});

renderSignedIn();
