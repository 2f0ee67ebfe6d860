import * as m0001 from "./0001-directory-and-calls.js";
import * as m0002 from "./0002-outbox-and-ring-deadline.js";
import * as m0003 from "./0003-livekit-sessions-and-webhooks.js";
import * as m0004 from "./0004-recordings-and-media.js";
import * as m0005 from "./0005-transcripts.js";
import * as m0006 from "./0006-end-requests.js";
import * as m0007 from "./0007-transcript-language-and-progress.js";
import * as m0008 from "./0008-scheduled-jobs.js";
import * as m0009 from "./0009-ringing-and-history.js";
import * as m0010 from "./0010-lean-outbox.js";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Applied in order; never edit one that has shipped, add the next number. */
export const migrations: readonly Migration[] = [
  { version: 1, name: "directory-and-calls", sql: m0001.sql },
  { version: 2, name: "outbox-and-ring-deadline", sql: m0002.sql },
  { version: 3, name: "livekit-sessions-and-webhooks", sql: m0003.sql },
  { version: 4, name: "recordings-and-media", sql: m0004.sql },
  { version: 5, name: "transcripts", sql: m0005.sql },
  { version: 6, name: "end-requests", sql: m0006.sql },
  { version: 7, name: "transcript-language-and-progress", sql: m0007.sql },
  { version: 8, name: "scheduled-jobs", sql: m0008.sql },
  { version: 9, name: "ringing-and-history", sql: m0009.sql },
  { version: 10, name: "lean-outbox", sql: m0010.sql },
];
