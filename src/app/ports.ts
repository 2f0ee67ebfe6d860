import type { Call, Transition } from "../domain/call.js";
import type { Membership } from "../domain/permissions.js";
import type { Recording, RecordingTransition } from "../domain/recording.js";
import type { Segment, Transcript } from "../domain/transcript.js";

/**
 * What the use cases need from the outside world. Adapters implement these;
 * tests may pass their own.
 */

/** The verified identity behind a request (a bearer token's claims). */
export interface Principal {
  /** `sub`: the user id (or, for internal callers, the service's name). */
  readonly subject: string;
  /** `tid`: the tenant; required for the public API. */
  readonly tenantId: string | undefined;
  /** From the `scope` claim (space-separated string or array). */
  readonly scopes: ReadonlySet<string>;
}

/** Verifies bearer tokens (the auth adapter implements it). */
export interface Authenticator {
  /** Verifies an `Authorization` header value; throws SW_CALL_UNAUTHENTICATED. */
  authenticate(authorization: string | null | undefined): Promise<Principal>;
}

/** A user of the public API, established from a verified bearer token. */
export interface Caller {
  readonly userId: string;
  readonly tenantId: string;
}

/** Another ScaiWave service (the rooms service writing the directory), by its token's `sub`. */
export interface InternalCaller {
  readonly service: string;
}

export interface CallKey {
  readonly tenantId: string;
  readonly callId: string;
}

/**
 * Calls and their events: every write stores the transition's events in the
 * outbox in the same transaction as the change.
 */
export interface CallRepository {
  findCall(tenantId: string, callId: string): Call | undefined;
  findLiveCallInRoom(tenantId: string, roomId: string): Call | undefined;
  /**
   * Stores a new call. Returns false, storing nothing, when the room already
   * has a live call (one live call per room, enforced by the store).
   */
  insertCall(transition: Transition): boolean;
  /**
   * Loads the call, applies `change` and stores the result, atomically.
   * `change` may read (a membership check) but must not write or await; a
   * CallError it throws aborts the update.
   */
  updateCall(tenantId: string, callId: string, change: (call: Call) => Transition): Transition;
  /** Where any tenant's call lives: for LiveKit's webhooks, which know the room name only. */
  locateCall(callId: string): { readonly tenantId: string; readonly roomId: string } | undefined;
  listLiveCalls(): Call[];
  /** Live calls of the rooms `userId` is a member of, newest first. */
  listLiveCallsForMember(tenantId: string, userId: string, limit: number): Call[];
  /**
   * Runs `work` in one transaction with the record that webhook `eventId`
   * was processed; a webhook processed before runs nothing.
   */
  oncePerWebhook(eventId: string, receivedAt: number, work: () => void): "processed" | "duplicate";
  /** Forgets processed webhook ids older than `before` (LiveKit retries within minutes). */
  pruneWebhookIds(before: number): number;
  /** Calls still ringing whose ring deadline is at or before `now`. */
  listRingingDue(now: number): CallKey[];
  /** The earliest ring deadline of any ringing call. */
  nextRingDeadline(): number | undefined;
}

/** A stored event waiting for (or done with) the relay to NATS. */
export interface OutboxEntry {
  readonly seq: number;
  readonly id: string;
  readonly subject: string;
  readonly payload: string;
  readonly createdAt: number;
}

export interface OutboxStore {
  /** The oldest unsent events, in commit order. */
  pending(limit: number): OutboxEntry[];
  /** Marks events sent (one transaction). */
  markSent(seqs: readonly number[], at: number): void;
  backlog(): { readonly pending: number; readonly oldestCreatedAt: number | undefined };
  /** Deletes events sent before `before`; returns how many. */
  pruneSent(before: number): number;
}

export interface TenantPolicy {
  readonly recordingsEnabled: boolean;
  readonly transcriptionEnabled: boolean;
}

export interface RoomMember {
  readonly userId: string;
  readonly powerLevel: number;
}

/** The local replica of ScaiWave's rooms, members and tenant policies. */
export interface DirectoryRepository {
  findMember(tenantId: string, roomId: string, userId: string): Membership | undefined;
  listMemberIds(tenantId: string, roomId: string): string[];
  putRoom(tenantId: string, roomId: string, members: readonly RoomMember[]): void;
  putMember(tenantId: string, roomId: string, member: RoomMember): void;
  removeMember(tenantId: string, roomId: string, userId: string): void;
  putTenantPolicy(tenantId: string, policy: TenantPolicy): void;
  /** A tenant without a stored policy gets the defaults. */
  getTenantPolicy(tenantId: string): TenantPolicy;
}

/** A participant as LiveKit's RoomService lists it. */
export interface LiveKitParticipant {
  readonly identity: string;
  readonly sid: string;
  readonly audioOn: boolean;
  readonly videoOn: boolean;
}

/** LiveKit's RoomService. Failures to reach LiveKit throw SW_CALL_LIVEKIT_UNREACHABLE. */
export interface LiveKitRooms {
  createRoom(name: string): Promise<void>;
  /** Deleting a room that does not exist is not an error. */
  deleteRoom(name: string): Promise<void>;
  /** Names of the rooms that exist now. */
  listRoomNames(): Promise<Set<string>>;
  listParticipants(roomName: string): Promise<LiveKitParticipant[]>;
  /** Mutes the participant's published microphone and/or camera tracks. */
  muteParticipant(roomName: string, identity: string, what: { audio: boolean; video: boolean }): Promise<void>;
  /** Disconnects the participant; one who is not connected is not an error. */
  removeParticipant(roomName: string, identity: string): Promise<void>;
}

export interface LiveKitTokens {
  /** A short-lived token that lets `identity` join `roomName` and nothing else. */
  mint(identity: string, roomName: string): Promise<string>;
}

export interface Clock {
  /** Unix milliseconds. */
  now(): number;
}

export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Recordings and their media entries; every change with its event, in one transaction. */
export interface RecordingRepository {
  /** Stores a new recording; false (nothing stored) when the call already has an active one. */
  insert(recording: Recording): boolean;
  /** Deletes a recording that never started (LiveKit refused it). */
  discard(recordingId: string): void;
  setEgressId(recordingId: string, egressId: string): void;
  findById(recordingId: string): Recording | undefined;
  findByEgressId(egressId: string): Recording | undefined;
  /** The call's active (starting/recording) recording. */
  findActive(callId: string): Recording | undefined;
  findLatest(callId: string): Recording | undefined;
  listForCall(callId: string): Recording[];
  /** Active recordings past their stop deadline. */
  listPastDeadline(now: number): Recording[];
  /**
   * Loads, applies `change`, stores the result and its event, atomically;
   * `alsoInTransaction` runs in the same transaction with the new state.
   */
  update(
    recordingId: string,
    change: (r: Recording) => RecordingTransition,
    alsoInTransaction?: (r: Recording) => void,
  ): RecordingTransition;
}

export interface TranscriptResult {
  readonly engine: string;
  readonly text: string;
  readonly segments: readonly Segment[];
  readonly vttKey: string;
  readonly txtKey: string;
}

/** Transcripts and their jobs; the job message goes through the outbox with the row. */
export interface TranscriptRepository {
  /** Creates the pending transcript and its job (idempotent per recording). Call inside the recording's transaction. */
  enqueue(recording: Recording): void;
  find(recordingId: string): Transcript | undefined;
  recordAttempt(recordingId: string, attempt: number): void;
  /** Stores the result and posts it to the room; false when it was already done (a redelivered job). */
  complete(recordingId: string, result: TranscriptResult): boolean;
  /** Marks it failed for good and tells the room; false when it was already done. */
  fail(recordingId: string, error: string): boolean;
}

/** Speech to text. */
export interface TranscriptionEngine {
  readonly name: string;
  /** Transcribes 16 kHz mono 16-bit WAV audio. */
  transcribe(wavPath: string, signal?: AbortSignal): Promise<{ text: string; segments: Segment[] }>;
}

/** Extracts the audio a transcription engine wants from a media file. */
export interface AudioExtractor {
  /** Writes 16 kHz mono 16-bit WAV to `wavPath`; returns its duration in seconds. */
  toWav16kMono(mediaPath: string, wavPath: string): Promise<number>;
}

/** LiveKit egress (room composite to a file in object storage). */
export interface EgressService {
  /** Starts recording the room to `fileKey`; returns LiveKit's egress id. */
  start(request: { roomName: string; fileKey: string; audioOnly: boolean; videoOnly: boolean }): Promise<string>;
  /** Stops an egress; one that already ended is not an error. */
  stop(egressId: string): Promise<void>;
  /** Egresses LiveKit is running now, for our rooms. */
  listActive(): Promise<{ egressId: string; roomName: string }[]>;
}

/** The bucket recordings are uploaded to. */
export interface ObjectStore {
  readonly bucket: string;
  /** The stored object's size, or undefined if there is none. */
  stat(key: string): Promise<{ sizeBytes: number } | undefined>;
  /** A URL anyone can GET the object from until it expires. */
  presignGet(key: string, ttlSeconds: number): Promise<string>;
  download(key: string, path: string): Promise<void>;
  upload(key: string, body: string | Buffer, contentType: string): Promise<void>;
}
