import type { CallHistoryRecord, HistoryPage } from "../domain/history.js";
import type { Call } from "../domain/call.js";
import type { Membership } from "../domain/permissions.js";
import type { Recording } from "../domain/recording.js";
import type { Segment, Transcript } from "../domain/transcript.js";
import type { OutboundEvent } from "./events.js";

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

/** A user of the public API, established from a verified bearer token, in one request. */
export interface Caller {
  readonly userId: string;
  readonly tenantId: string;
  /** The request acting (its X-Request-Id): named in the events it causes. Absent outside a request (tests, tools). */
  readonly requestId?: string;
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
 * The store: reads outside any transaction, reads together in
 * {@link Store.read}, and {@link Store.transaction}, the one write path. A
 * use case reads what it needs in a transaction, applies a domain
 * transition, saves the result and appends the events it built to the
 * outbox: the change and its events commit together or not at all. SQLite
 * and PostgreSQL implement it.
 */
export interface Store extends StoreReads {
  /**
   * Runs `work` in one transaction and commits when it resolves; a throw
   * rolls everything back. `work` should only await the store (it holds the
   * transaction open, and on SQLite every other writer waits for it).
   */
  transaction<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  /**
   * Runs the reads of `work` as one: on PostgreSQL on one connection, in one
   * snapshot (a read-only REPEATABLE READ transaction: no change committed
   * meanwhile shows between them); on SQLite in the read transaction shared
   * by the reads of the current turn (its one connection's group commit).
   * `work` should only await the store (on PostgreSQL it holds a connection
   * of the pool).
   */
  read<T>(work: (reads: StoreReads) => Promise<T>): Promise<T>;
  /** A cheap round trip, for readiness. */
  ping(): Promise<void>;
}

/** What may be read without a transaction (a read sees committed state). */
export interface StoreReads {
  readonly calls: CallReads;
  readonly recordings: RecordingReads;
  readonly transcripts: TranscriptReads;
  readonly directory: DirectoryReads;
}

/** The repositories bound to one transaction, and the one outbox writer. */
export interface StoreTransaction {
  readonly calls: CallRepository;
  readonly recordings: RecordingRepository;
  readonly transcripts: TranscriptRepository;
  readonly directory: DirectoryRepository;
  /** LiveKit webhook ids already processed (LiveKit retries; each is applied once). */
  readonly webhooks: WebhookLog;
  /** The only way events reach the outbox: in the transaction of the change they describe. */
  readonly outbox: OutboxWriter;
  readonly schedule: ScheduleClaims;
}

export interface CallReads extends CallHistoryReads {
  findCall(tenantId: string, callId: string): Promise<Call | undefined>;
  findLiveCallInRoom(tenantId: string, roomId: string): Promise<Call | undefined>;
  /** Where any tenant's call lives: for LiveKit's webhooks, which know the room name only. */
  locateCall(callId: string): Promise<{ readonly tenantId: string; readonly roomId: string } | undefined>;
  listLiveCalls(): Promise<Call[]>;
  /** Live calls of the rooms `userId` is a member of, newest first. */
  listLiveCallsForMember(tenantId: string, userId: string, limit: number): Promise<Call[]>;
  /** For the live-calls gauge. */
  countLive(): Promise<{ ringing: number; active: number }>;
  /** The earliest ring deadline of any ringing call. */
  nextRingDeadline(): Promise<number | undefined>;
}

/**
 * The calls a user was in or was rung for, newest first (by start, then
 * id), strictly older than `page.before`: an index walk, as fast with a
 * million calls stored as with a thousand. Tenants never see each other's.
 */
export interface CallHistoryReads {
  listHistory(tenantId: string, userId: string, page: HistoryPage): Promise<CallHistoryRecord[]>;
  /** How many calls the user missed and has not marked seen. */
  countUnseenMissed(tenantId: string, userId: string): Promise<number>;
  /** A room's calls, live and ended, newest first (by start, then id), strictly older than `page.before`. */
  listRoomCalls(tenantId: string, roomId: string, page: HistoryPage): Promise<Call[]>;
  /** Which of `userIds` are participants of a live call of the tenant now (they ring as call waiting). */
  findBusy(tenantId: string, userIds: readonly string[]): Promise<Set<string>>;
}

export interface CallRepository extends CallReads {
  /** The call, held for this transaction's change (PostgreSQL locks its row until commit). */
  findCallForUpdate(tenantId: string, callId: string): Promise<Call | undefined>;
  /** Stores a new call; false, storing nothing, when its room already has a live call (enforced by the store). */
  insertCall(call: Call): Promise<boolean>;
  /** Stores `after` over `before` (what differs: a join in a room of thousands touches two rows). */
  saveCall(before: Call, after: Call): Promise<void>;
  /**
   * Up to `limit` calls still ringing whose ring deadline is at or before
   * `now`, held for this transaction. PostgreSQL skips calls another
   * instance holds (`FOR UPDATE SKIP LOCKED`): each due call is claimed by
   * one instance of the cluster.
   */
  claimRingingDue(now: number, limit: number): Promise<CallKey[]>;
  /** Marks every call the user missed as seen; returns how many were unseen. */
  markHistorySeen(tenantId: string, userId: string): Promise<number>;
  /**
   * Deletes up to `limit` calls that ended before `before` and have no
   * recordings, with their participants, invitees and history; returns how many.
   */
  deleteEndedBefore(before: number, limit: number): Promise<number>;
}

/** Periodic work as rows: one run per interval for the whole cluster, whichever instance claims it. */
export interface ScheduleClaims {
  /** Makes the job known, first due at `firstRunAt`; a job already known keeps its schedule. */
  register(job: string, firstRunAt: number): Promise<void>;
  /**
   * Claims the run of `job` due at `now`: true (and the next run is moved to
   * `now + intervalMs`) for exactly one of the instances that ask, false for
   * the others and until the next run is due.
   */
  claim(job: string, now: number, intervalMs: number, holder: string): Promise<boolean>;
}

export interface WebhookLog {
  /** Records a processed webhook id; false when it was recorded before (a retry). */
  record(eventId: string, receivedAt: number): Promise<boolean>;
  /** Forgets ids older than `before` (LiveKit retries within minutes); returns how many. */
  prune(before: number): Promise<number>;
}

export interface OutboxWriter {
  append(events: readonly OutboundEvent[]): Promise<void>;
}

/** A stored event waiting for (or done with) the relay to NATS. */
export interface OutboxEntry {
  readonly seq: number;
  readonly id: string;
  readonly subject: string;
  readonly payload: string;
  readonly createdAt: number;
}

/**
 * The relay's side of the outbox. One instance of the cluster at a time
 * publishes it: the one holding the relay lease.
 */
export interface OutboxStore {
  /**
   * Tries to become the one publisher; undefined while another instance is.
   * The lease lasts until released or until this instance's connection to
   * the store is lost (a process that dies loses it at once). `onWritten` is
   * told, while the lease is held, when any instance commits events.
   */
  acquireRelay(onWritten: () => void): Promise<OutboxRelayLease | undefined>;
  backlog(): Promise<{ readonly pending: number; readonly oldestCreatedAt: number | undefined }>;
}

/** What only the publisher does to the outbox; every call fails once the lease is lost. */
export interface OutboxRelayLease {
  /** The oldest unsent events, in commit order: committed events only. */
  pending(limit: number): Promise<OutboxEntry[]>;
  /** Marks events sent (one transaction). */
  markSent(seqs: readonly number[], at: number): Promise<void>;
  /** Deletes events sent before `before`; returns how many. */
  pruneSent(before: number): Promise<number>;
  /** Gives the role up (another instance may take it at once). Idempotent; never throws. */
  release(): Promise<void>;
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
export interface DirectoryReads {
  findMember(tenantId: string, roomId: string, userId: string): Promise<Membership | undefined>;
  listMemberIds(tenantId: string, roomId: string): Promise<string[]>;
  /** A tenant without a stored policy gets the defaults. */
  getTenantPolicy(tenantId: string): Promise<TenantPolicy>;
}

export interface DirectoryRepository extends DirectoryReads {
  /** Replaces the room's member list. */
  putRoom(tenantId: string, roomId: string, members: readonly RoomMember[]): Promise<void>;
  putMember(tenantId: string, roomId: string, member: RoomMember): Promise<void>;
  removeMember(tenantId: string, roomId: string, userId: string): Promise<void>;
  putTenantPolicy(tenantId: string, policy: TenantPolicy): Promise<void>;
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

export interface RecordingReads {
  findById(recordingId: string): Promise<Recording | undefined>;
  findByEgressId(egressId: string): Promise<Recording | undefined>;
  /** The call's active (starting/recording) recording. */
  findActive(callId: string): Promise<Recording | undefined>;
  findLatest(callId: string): Promise<Recording | undefined>;
  /** The recordings of any number of calls (one query), oldest first (by start, then id). */
  listForCalls(callIds: readonly string[]): Promise<Recording[]>;
  /** Active recordings past their stop deadline. */
  listPastDeadline(now: number): Promise<Recording[]>;
}

/** Recordings and their media entries. */
export interface RecordingRepository extends RecordingReads {
  /** Stores a new recording; false (nothing stored) when the call already has an active one. */
  insert(recording: Recording): Promise<boolean>;
  /** Deletes a recording that never started (LiveKit refused it). */
  discard(recordingId: string): Promise<void>;
  setEgressId(recordingId: string, egressId: string): Promise<void>;
  /** Stores `after` over `before`, and its media entry when it just got one. */
  save(before: Recording, after: Recording): Promise<void>;
}

export interface TranscriptResult {
  readonly engine: string;
  /** The language spoken, when the engine told it. */
  readonly language: string | null;
  readonly text: string;
  readonly segments: readonly Segment[];
  readonly vttKey: string;
  readonly txtKey: string;
}

export interface TranscriptReads {
  find(recordingId: string): Promise<Transcript | undefined>;
  /** The transcripts of any number of recordings (one query); a recording without one has none in the list. */
  findMany(recordingIds: readonly string[]): Promise<Transcript[]>;
}

/** Transcripts of recordings and where their jobs stand. */
export interface TranscriptRepository extends TranscriptReads {
  /** The pending transcript of a recording; false when it already has one. */
  createPending(recording: Recording, now: number): Promise<boolean>;
  /** Attempt `attempt` starts: counted, and its progress starts from 0. */
  recordAttempt(recordingId: string, attempt: number, now: number): Promise<void>;
  /** How far the running attempt got (share of the audio, 0–1); a transcript no longer pending keeps what it has. */
  recordProgress(recordingId: string, progress: number, now: number): Promise<void>;
  /** Stores the result of a pending transcript; false when it was no longer pending (a redelivered job). */
  complete(recordingId: string, result: TranscriptResult, now: number): Promise<boolean>;
  /** Marks a pending transcript failed for good; false when it was no longer pending. */
  fail(recordingId: string, error: string, now: number): Promise<boolean>;
}

/** What an engine heard. */
export interface TranscriptionOutput {
  readonly text: string;
  readonly segments: Segment[];
  /** The spoken language (a code like `en`), when the engine tells it. */
  readonly language?: string | null;
}

/** Speech to text. */
export interface TranscriptionEngine {
  readonly name: string;
  /** Transcribes 16 kHz mono 16-bit WAV audio; `onProgress` hears the share of the audio done (0–1), when the engine tells it. */
  transcribe(wavPath: string, signal?: AbortSignal, onProgress?: (share: number) => void): Promise<TranscriptionOutput>;
  /** Stops what the engine keeps running (its processes). */
  close?(): Promise<void>;
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
