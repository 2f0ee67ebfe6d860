import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs"))
  .filter((name) => name.endsWith(".md"))
  .map((name) => `docs/${name}`)];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function anchorsIn(markdown: string): Set<string> {
  const withoutCode = markdown.replace(/^```[\s\S]*?^```/gm, "");
  return new Set([...withoutCode.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1]!.trim())));
}

/** Relative Markdown links `[text](target)` outside code; web links are not ours to check. */
function linksIn(markdown: string): string[] {
  const withoutCode = markdown.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
  return [...withoutCode.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((target) => !/^[a-z]+:/i.test(target));
}

describe("the docs", () => {
  it.each(DOCS)("%s: every relative link points to a file in this repository, and to a heading it has", (doc) => {
    const text = readFileSync(join(ROOT, doc), "utf8");
    for (const link of linksIn(text)) {
      const [path = "", anchor] = link.split("#");
      const target = path === "" ? join(ROOT, doc) : resolve(dirname(join(ROOT, doc)), path);
      expect(relative(ROOT, target).startsWith(".."), `${doc}: ${link} leaves the repository`).toBe(false);
      expect(existsSync(target), `${doc}: ${link} points to a missing file`).toBe(true);
      if (anchor !== undefined) {
        expect(anchorsIn(readFileSync(target, "utf8")), `${doc}: ${link} points to a missing heading`).toContain(anchor);
      }
    }
  });

  it("the README links every page of docs/", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    for (const doc of DOCS.filter((d) => d !== "README.md")) expect(readme).toContain(`](${doc})`);
  });
});
