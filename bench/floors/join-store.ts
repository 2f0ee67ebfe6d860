import Database from "better-sqlite3";

/**
 * Floor (d)'s durability, hand-rolled: per request one transaction (WAL,
 * synchronous=NORMAL, as the service) that upserts a participant row and
 * appends an event-sized row. Used by the floor's server (rest-token.ts) and,
 * in-process, by bench/join-layers.ts.
 */
export function openJoinStore(path: string): (callId: string, userId: string) => void {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(`CREATE TABLE IF NOT EXISTS participants (call_id TEXT NOT NULL, user_id TEXT NOT NULL, joined_at INTEGER NOT NULL,
             PRIMARY KEY (call_id, user_id)) WITHOUT ROWID;
           CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)`);
  const upsert = db.prepare("INSERT INTO participants VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET joined_at = excluded.joined_at");
  const append = db.prepare("INSERT INTO events (payload) VALUES (?)");
  const event = "x".repeat(900); // about the size of a participant_joined envelope
  const join = db.transaction((callId: string, userId: string) => {
    upsert.run(callId, userId, Date.now());
    append.run(event);
  });
  return (callId, userId) => join.immediate(callId, userId);
}
