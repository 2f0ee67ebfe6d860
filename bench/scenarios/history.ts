import { join } from "node:path";
import { row, TENANT, type Bench, type BenchService } from "../lib/bench.js";
import type { PreparedRequest } from "../lib/load-generators.js";
import { withFloor, type ScenarioResult } from "../lib/report.js";
import { StoreSeeder } from "../lib/seed.js";
import { compareStores } from "./stores.js";

const READER = "history-reader";
const READER_ROOMS = 10;
/** The other calls' rooms, per tenant: two members each. */
const OTHER_ROOMS = 1_000;
const OTHER_TENANT = `${TENANT}-other`;
const PAGE_SIZE = 50;

type Pages = { first?: ScenarioResult; next?: ScenarioResult };

/**
 * ListCallHistory (REST) for one user whose history is the same in a small
 * and a large store: only the other users' calls grow. Two request shapes,
 * the newest page and the page after it (a cursor); the large rows carry the
 * ratio to the small ones.
 */
export async function callHistory(b: Bench): Promise<void> {
  const small = await history(b, b.size.historySmall, "small");
  const large = await history(b, b.size.historyLarge, "large");
  for (const page of ["first", "next"] as const) {
    const s = small[page];
    const l = large[page];
    if (s && l) compareStores(b, s, l, b.size.historySmall);
  }
}

async function history(b: Bench, size: number, label: string): Promise<Pages> {
  const pages: Pages = {};
  await b.scenario(`call history with ${size} stored calls`, async () => {
    const path = join(b.work, `history-${label}.db`);
    const started = performance.now();
    const { missed } = seedHistory(path, size, b.size.historyOfReader);
    b.progress(`seeded ${size.toLocaleString("en")} calls and their history rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const service = await b.startService(path);
    try {
      const authorization = b.bearerOf(READER);
      const firstPath = `/v1/calls/history?page_size=${PAGE_SIZE}`;
      const cursor = await checkedPage(service, firstPath, authorization, missed);
      if (!cursor) throw new Error(`the reader's history has no second page (${b.size.historyOfReader} calls seeded)`);
      const nextPath = `${firstPath}&cursor=${encodeURIComponent(cursor)}`;
      await checkedPage(service, nextPath, authorization, missed);
      const copied = service.copySeconds === undefined ? undefined : `store copied into PostgreSQL in ${service.copySeconds.toFixed(1)} s`;
      pages.first = await measure(b, service, `history-first-${label}`, `call history, newest ${PAGE_SIZE}, ${size.toLocaleString("en")} calls stored`, firstPath, authorization, copied);
      pages.next = await measure(b, service, `history-next-${label}`, `call history, page 2 (cursor), ${size.toLocaleString("en")} calls stored`, nextPath, authorization);
    } finally {
      await b.stopService(service);
    }
  });
  return pages;
}

/**
 * `total` ended calls, `ofReader` of them the reader's, spread evenly through
 * time among the others: a third each started by the reader and answered,
 * started by a room mate and answered, started by a room mate and missed
 * (unseen). The rest are between other users of the same tenant and of
 * another one, in the same three kinds. Returns the reader's missed count.
 */
function seedHistory(path: string, total: number, ofReader: number): { missed: number } {
  const seeder = new StoreSeeder(path, TENANT);
  const stride = Math.max(1, Math.floor(total / ofReader));
  let readerCalls = 0;
  let missed = 0;
  let others = 0;
  // One call of `a` and `b`, of kind `k`: a started and b answered, b started and a answered, b started and a missed.
  const call = (roomId: string, a: string, b: string, k: number, tenantId: string) => {
    if (k === 0) seeder.call(roomId, a, [a, b], false, { tenantId });
    else if (k === 1) seeder.call(roomId, b, [b, a], false, { tenantId });
    else seeder.call(roomId, b, [b], false, { tenantId, missed: [a] });
  };
  seeder.batch(() => {
    for (let r = 0; r < READER_ROOMS; r++) seeder.room(`hr${r}`, [READER, `mate${r}`]);
    for (let r = 0; r < OTHER_ROOMS; r++) {
      seeder.room(`or${r}`, [`o${2 * r}`, `o${2 * r + 1}`]);
      seeder.room(`xr${r}`, [`x${2 * r}`, `x${2 * r + 1}`], OTHER_TENANT);
    }
    for (let i = 0; i < total; i++) {
      if (i % stride === 0 && readerCalls < ofReader) {
        const k = readerCalls % 3;
        const r = readerCalls++ % READER_ROOMS;
        call(`hr${r}`, READER, `mate${r}`, k, TENANT);
        if (k === 2) missed++;
      } else {
        const j = others++;
        const r = (j >> 1) % OTHER_ROOMS;
        const [prefix, tenantId] = j % 2 === 0 ? ["o", TENANT] : ["x", OTHER_TENANT];
        call(`${prefix}r${r}`, `${prefix}${2 * r}`, `${prefix}${2 * r + 1}`, j % 3, tenantId);
      }
    }
  });
  seeder.close();
  return { missed };
}

/** One page as the measured run will ask for it: a full page, the reader's missed count; its next cursor. */
async function checkedPage(service: BenchService, path: string, authorization: string, missed: number): Promise<string> {
  const response = await fetch(`${service.baseUrl}${path}`, { headers: { authorization } });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${text}`);
  const { data } = JSON.parse(text) as { data?: { entries?: unknown[]; next_cursor?: string; unseen_missed_count?: number } };
  const entries = data?.entries?.length ?? 0;
  const unseen = data?.unseen_missed_count ?? 0;
  if (entries !== PAGE_SIZE || unseen !== missed) {
    throw new Error(`GET ${path}: expected ${PAGE_SIZE} entries and ${missed} unseen missed calls, got ${entries} and ${unseen}`);
  }
  return data?.next_cursor ?? "";
}

/** The same read over and over (a read changes nothing, so repeats are what a client polling its history does). */
async function measure(b: Bench, service: BenchService, id: string, title: string, path: string, authorization: string, note?: string): Promise<ScenarioResult> {
  const requests: PreparedRequest[] = [{ method: "GET", path, headers: { authorization } }];
  const { load, usage } = await b.wrk(service.baseUrl, service.child.pid!, id, requests, requests);
  const measured = row(id, title, { ...load, wrapped: false }, usage);
  const notes = [note, measured.note].filter(Boolean).join("; ");
  const result = withFloor({ ...measured, ...(notes && { note: notes }) }, b.byId("floor-a"));
  b.results.push(result);
  return result;
}
