import type pg from "pg";
import type { Store, StoreTransaction } from "../../app/ports.js";
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
 * findCallForUpdate), so units of work of different calls run in parallel.
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
      return await this.run(work);
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

  private async run<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: unknown;
    // A checked-out connection that dies (the server restarts) emits 'error' besides failing its query:
    // unheard, that event would take the process down. The query's own rejection carries the failure.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const tx = this.bind(client);
      const result = await work(tx.repositories);
      await client.query("COMMIT");
      if (tx.outbox.wrote) this.options.onOutboxCommit?.();
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
