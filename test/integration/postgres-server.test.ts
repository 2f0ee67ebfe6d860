import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresBinDir, startPostgresServer, type PostgresServer } from "../support/postgres-server.js";

/** A connected client; connection-level errors (a server going away) become a promise instead of a crash. */
async function connect(url: string): Promise<{ client: pg.Client; dropped: Promise<Error> }> {
  const client = new pg.Client({ connectionString: url });
  const dropped = new Promise<Error>((resolve) => client.on("error", resolve));
  await client.connect();
  return { client, dropped };
}

async function query<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const { client } = await connect(url);
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** The OS user the server must run as: `postgres` when the tests run as root (the machines do), else ourselves. */
function expectedUid(): number {
  const self = process.getuid!();
  return self === 0 ? Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()) : self;
}

describe("the PostgreSQL fixture", () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgresServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("serves its database on 127.0.0.1 with fsync on", async () => {
    expect(server.url).toMatch(new RegExp(`^postgres://postgres:[0-9a-f]+@127\\.0\\.0\\.1:${server.port}/scaiwave$`));
    const [row] = await query<{ db: string; addr: string; fsync: string; listen: string; sync: string }>(
      server.url,
      `SELECT current_database() AS db, host(inet_server_addr()) AS addr, current_setting('fsync') AS fsync,
         current_setting('listen_addresses') AS listen, current_setting('synchronous_commit') AS sync`,
    );
    expect(row).toEqual({ db: "scaiwave", addr: "127.0.0.1", fsync: "on", listen: "127.0.0.1", sync: "on" });
  });

  it("runs as the OS user postgres, which owns the data and the socket dir", () => {
    const uid = expectedUid();
    expect(uid).not.toBe(0);
    expect(statSync(`/proc/${server.pid}`).uid).toBe(uid);
    expect(statSync(server.dataDir).uid).toBe(uid);
    expect(existsSync(join(server.dataDir, "..", `.s.PGSQL.${server.port}`))).toBe(true);
  });

  it("refuses a wrong password", async () => {
    const url = new URL(server.url);
    url.password = "wrong";
    await expect(query(url.toString(), "SELECT 1")).rejects.toThrow(/password authentication failed for user "postgres"/);
  });

  it("gives each caller a database of its own, and refuses a name it would have to quote", async () => {
    const [a, b] = await Promise.all([server.createDatabase(), server.createDatabase("fixture_named_db")]);
    expect(new URL(b).pathname).toBe("/fixture_named_db");
    await query(a, "CREATE TABLE only_in_a (x INTEGER)");
    const tables = (url: string) => query<{ t: string | null }>(url, "SELECT to_regclass('only_in_a')::text AS t");
    expect(await tables(a)).toEqual([{ t: "only_in_a" }]);
    expect(await tables(b)).toEqual([{ t: null }]);
    await expect(server.createDatabase('x"; DROP DATABASE scaiwave; --')).rejects.toThrow(/not a plain lower-case identifier/);
  });

  it("restart('fast') closes open connections, keeps committed data, and takes new connections", async () => {
    await query(server.url, "CREATE TABLE kept (n INTEGER); INSERT INTO kept VALUES (1)");
    const before = server.pid;
    const open = await connect(server.url);
    await server.restart("fast");
    // Fast shutdown: the server ends every session with 57P01 (admin_shutdown).
    await expect(open.dropped).resolves.toMatchObject({ code: "57P01" });
    await open.client.end().catch(() => {});
    expect(server.pid).not.toBe(before);
    expect(await query(server.url, "SELECT n FROM kept")).toEqual([{ n: 1 }]);
  });

  it("comes back after kill -9 with every committed row (crash recovery)", async () => {
    await query(server.url, "CREATE TABLE crashed (n INTEGER); INSERT INTO crashed SELECT generate_series(1, 100)");
    const before = server.pid;
    const open = await connect(server.url);
    await server.kill9();
    await open.dropped;
    await open.client.end().catch(() => {});
    expect(existsSync(`/proc/${before}`)).toBe(false);
    await server.restart();
    expect(await query(server.url, "SELECT count(*)::int AS n FROM crashed")).toEqual([{ n: 100 }]);
  });
});

describe("stopping the PostgreSQL fixture", () => {
  it("stops the server, frees its port and removes its temp dir", async () => {
    const server = await startPostgresServer({ database: "stopped" });
    const { dataDir, pid, url } = server;
    expect(await query(url, "SELECT current_database() AS db")).toEqual([{ db: "stopped" }]);
    await server.stop();
    await server.stop(); // idempotent
    expect(existsSync(join(dataDir, ".."))).toBe(false);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    await expect(query(url, "SELECT 1")).rejects.toThrow(/ECONNREFUSED/);
  });

  it("says where PostgreSQL is missing and what installs it", () => {
    const empty = mkdtempSync(join(tmpdir(), "no-postgresql-"));
    try {
      expect(() => postgresBinDir(empty)).toThrow(`PostgreSQL not found under ${empty}/<major>/bin: run scripts/install-test-deps.sh`);
    } finally {
      rmSync(empty, { recursive: true });
    }
  });
});
