/**
 * Extracts the comments of our protos (services, RPCs, messages, fields,
 * enums) into src/transport/proto-comments.json, for the OpenAPI document:
 * protobuf-es's generated descriptors do not carry comments. Part of
 * `npm run generate`; `--check` fails when the committed file is stale.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type DescriptorProto, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";

const OUT = "src/transport/proto-comments.json";

const bytes = execFileSync("npx", ["--no-install", "buf", "build", "--path", "proto/scaiwave", "--exclude-imports", "--as-file-descriptor-set", "-o", "-"], {
  maxBuffer: 64 * 1024 * 1024,
});
const set = fromBinary(FileDescriptorSetSchema, bytes);
const comments: Record<string, string> = {};

/** Lines of a paragraph joined with spaces; paragraphs kept apart. */
function clean(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((p) =>
      p
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
        .join(" "),
    )
    .filter(Boolean)
    .join("\n\n");
}

function walk(file: FileDescriptorProto): void {
  const pkg = file.package;
  const byPath = new Map<string, string>();
  for (const loc of file.sourceCodeInfo?.location ?? []) {
    if (loc.leadingComments.trim()) byPath.set(loc.path.join("."), clean(loc.leadingComments));
  }
  const put = (name: string, path: number[]) => {
    const text = byPath.get(path.join("."));
    if (text) comments[name] = text;
  };
  const message = (m: DescriptorProto, prefix: string, path: number[]) => {
    const name = `${prefix}.${m.name}`;
    put(name, path);
    m.field.forEach((f, i) => put(`${name}.${f.name}`, [...path, 2, i]));
    m.nestedType.forEach((n, i) => message(n, name, [...path, 3, i]));
  };
  file.messageType.forEach((m, i) => message(m, pkg, [4, i]));
  file.enumType.forEach((e, i) => put(`${pkg}.${e.name}`, [5, i]));
  file.service.forEach((s, i) => {
    put(`${pkg}.${s.name}`, [6, i]);
    s.method.forEach((m, j) => put(`${pkg}.${s.name}.${m.name}`, [6, i, 2, j]));
  });
}

for (const file of set.file) walk(file);
const json = `${JSON.stringify(Object.fromEntries(Object.entries(comments).sort(([a], [b]) => a.localeCompare(b))), null, 2)}\n`;

if (process.argv.includes("--check")) {
  if (readFileSync(OUT, "utf8") !== json) {
    process.stderr.write(`${OUT} is stale: run 'npm run generate' and commit the result\n`);
    process.exit(1);
  }
} else {
  writeFileSync(OUT, json);
}
