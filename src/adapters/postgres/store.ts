import type pg from "pg";
import type { Store, StoreReads, StoreTransaction } from "../../app/ports.js";
import { PostgresCallRepository } from "./call-repository.js";
import { translated, translatingQueries } from "./failures.js";
import { PostgresDirectoryRepository } from "./directory-repository.js";
import { PostgresOutboxWriter, PostgresWebhookLog } from "./outbox.js";
import type { Queryable } from "./queryable.js";
import { PostgresRecordingRepository } from "./recording-repository.js";
import { PostgresScheduleClaims } from "./schedule-claims.js";
import { PostgresTranscriptRepository } from "./transcript-repository.js";

/**
 * The store on a PostgreSQL pool, shared by any number of instances. Reads
 * go to the pool; a unit of work checks out one connection for
 * BEGIN … COMMIT (READ COMMITTED, with the call's row locked by
 * findCallForUpdate), so units of work of different calls run in parallel;
 * a read unit, one connection for a read-only REPEATABLE READ transaction
 * (one snapshot for all its reads).
 */
export class PostgresStore implements Store {
  readonly calls: PostgresCallRepository;
  readonly recordings: PostgresRecordingRepository;
  readonly transcripts: PostgresTranscriptRepository;
  readonly directory: PostgresDirectoryRepository;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: {
      readonly now: () => number;
      /** Told after every COMMIT that wrote outbox rows (wakes this instance's relay). */
      readonly onOutboxCommit?: () => void;
    },
  ) {
    const reads = translatingQueries(pool);
    this.calls = new PostgresCallRepository(reads);
    this.recordings = new PostgresRecordingRepository(reads);
    this.transcripts = new PostgresTranscriptRepository(reads);
    this.directory = new PostgresDirectoryRepository(reads, options.now);
  }

  /** A database that is away (restarting, unreachable) fails the unit of work with SW_CALL_STORE_UNAVAILABLE. */
  async transaction<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    try {
      const { result, outbox } = await this.onOneConnection("BEGIN", async (client) => {
        const tx = this.bind(client);
        return { result: await work(tx.repositories), outbox: tx.outbox };
      });
      if (outbox.wrote) this.options.onOutboxCommit?.();
      return result;
    } catch (err) {
      throw translated(err);
    }
  }

  async read<T>(work: (reads: StoreReads) => Promise<T>): Promise<T> {
    try {
      return await this.onOneConnection("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", (client) =>
        work({
          calls: new PostgresCallRepository(client),
          recordings: new PostgresRecordingRepository(client),
          transcripts: new PostgresTranscriptRepository(client),
          directory: new PostgresDirectoryRepository(client, this.options.now),
        }),
      );
    } catch (err) {
      throw translated(err);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.pool.query("SELECT 1");
    } catch (err) {
      throw translated(err);
    }
  }

  /** `work` on one connection of the pool, between `begin` and COMMIT (ROLLBACK if it throws). */
  private async onOneConnection<T>(begin: string, work: (client: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: unknown;
    // A checked-out connection that dies (the server restarts) emits 'error' besides failing its query:
    // unheard, that event would take the process down. The query's own rejection carries the failure.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on("error", onError);
    try {
      await client.query(begin);
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch((rollbackFailed: unknown) => {
        // The connection is unusable (the server went away): it must not go back to the pool.
        broken = rollbackFailed;
      });
      throw err;
    } finally {
      client.off("error", onError);
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  private bind(client: Queryable): { repositories: StoreTransaction; outbox: PostgresOutboxWriter } {
    const outbox = new PostgresOutboxWriter(client);
    return {
      outbox,
      repositories: {
        calls: new PostgresCallRepository(client),
        recordings: new PostgresRecordingRepository(client),
        transcripts: new PostgresTranscriptRepository(client),
        directory: new PostgresDirectoryRepository(client, this.options.now),
        webhooks: new PostgresWebhookLog(client),
        outbox,
        schedule: new PostgresScheduleClaims(client),
      },
    };
  }
}
