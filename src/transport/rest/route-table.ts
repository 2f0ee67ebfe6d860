import { getOption, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { http } from "../../../gen/google/api/annotations_pb.js";
import type { RegisteredMethod } from "../rpc/registry.js";

/** One REST route, read from a method's `google.api.http` annotation. */
export interface RestRoute {
  readonly httpMethod: string;
  readonly template: string;
  /** Literal segments as strings; `{field}` segments as the request field they bind. */
  readonly segments: readonly (string | DescField)[];
  /** `body: "*"`: the JSON body is the request message (minus path fields). */
  readonly bodyIsRequest: boolean;
  /**
   * Without a body, the request fields the path does not bind are query
   * parameters (as google.api.http has it): the scalar, enum and repeated
   * scalar ones. Empty when the body is the request.
   */
  readonly queryFields: readonly DescField[];
  /** `response_body`: the response field sent as `data`, or undefined for the whole response. */
  readonly responseField: DescField | undefined;
  readonly target: RegisteredMethod;
}

export interface RouteMatch {
  readonly route: RestRoute;
  readonly pathParams: ReadonlyMap<DescField, string>;
}

export type RouteLookup =
  | { readonly kind: "found"; readonly match: RouteMatch }
  | { readonly kind: "wrong-method"; readonly allowed: readonly string[] }
  | { readonly kind: "not-found" };

/**
 * The REST surface, derived from the proto: no second route list to keep in
 * step. Supports what our annotations use: literal segments, single-segment
 * `{field}` variables, `body: "*"` (or query parameters without a body),
 * `response_body`, and GET/POST/PUT/PATCH/DELETE.
 */
export class RouteTable {
  private readonly routes: RestRoute[] = [];
  /** The routes by their count of segments: a path is only ever matched against templates of its length. */
  private readonly byLength = new Map<number, RestRoute[]>();

  constructor(methods: Iterable<RegisteredMethod>) {
    for (const target of methods) {
      const rule = getOption(target.method, http);
      const pattern = rule.pattern;
      if (pattern.case === undefined || pattern.case === "custom") continue;
      const template = pattern.value;
      const segments = parseTemplate(template, target.method.input);
      const bodyIsRequest = rule.body === "*";
      this.routes.push({
        httpMethod: pattern.case.toUpperCase(),
        template,
        segments,
        bodyIsRequest,
        queryFields: bodyIsRequest ? [] : queryFieldsOf(target.method.input, segments),
        responseField: rule.responseBody ? fieldNamed(target.method.output, rule.responseBody) : undefined,
        target,
      });
    }
    for (const route of this.routes) {
      const sameLength = this.byLength.get(route.segments.length) ?? [];
      sameLength.push(route);
      this.byLength.set(route.segments.length, sameLength);
    }
  }

  get all(): readonly RestRoute[] {
    return this.routes;
  }

  /**
   * Among the routes whose template matches the path, only the most specific
   * count, whatever the order they were declared in: reading left to right,
   * at the first segment where one has a literal and another a variable, the
   * literal wins (as in most HTTP routers). `/v1/calls/initiate` is
   * InitiateCall's path and `/v1/calls/history` ListCallHistory's, never
   * GetCall of a call with that id.
   */
  lookup(httpMethod: string, path: string): RouteLookup {
    const parts = path.split("/").slice(1);
    let best: RouteMatch[] = [];
    for (const route of this.byLength.get(parts.length) ?? []) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      const leader = best[0];
      const order = leader === undefined ? 1 : compareSpecificity(route.segments, leader.route.segments);
      if (order > 0) best = [];
      if (order >= 0) best.push({ route, pathParams: params });
    }
    const match = best.find((m) => m.route.httpMethod === httpMethod);
    if (match) return { kind: "found", match };
    if (best.length > 0) return { kind: "wrong-method", allowed: best.map((m) => m.route.httpMethod) };
    return { kind: "not-found" };
  }
}

/**
 * Positive when `a` is more specific than `b` (templates of one length, both
 * matching the same path): at the first segment where exactly one of them is
 * a literal, that one wins. Zero when they have literals in the same places.
 */
function compareSpecificity(a: readonly (string | DescField)[], b: readonly (string | DescField)[]): number {
  for (let i = 0; i < a.length; i++) {
    const aLiteral = typeof a[i] === "string";
    if (aLiteral !== (typeof b[i] === "string")) return aLiteral ? 1 : -1;
  }
  return 0;
}

function queryFieldsOf(input: DescMessage, segments: readonly (string | DescField)[]): DescField[] {
  const bound = new Set(segments.filter((s): s is DescField => typeof s !== "string"));
  return input.fields.filter(
    (f) => !bound.has(f) && (f.fieldKind === "scalar" || f.fieldKind === "enum" || (f.fieldKind === "list" && f.listKind !== "message")),
  );
}

function parseTemplate(template: string, input: DescMessage): (string | DescField)[] {
  if (!template.startsWith("/")) throw new Error(`http template ${template} must start with /`);
  return template
    .split("/")
    .slice(1)
    .map((segment) => {
      const variable = /^\{([a-z0-9_]+)\}$/.exec(segment);
      if (!variable?.[1]) {
        if (/[{}*]/.test(segment)) throw new Error(`http template ${template}: unsupported segment ${segment}`);
        return segment;
      }
      return fieldNamed(input, variable[1]);
    });
}

function fieldNamed(message: DescMessage, name: string): DescField {
  const field = message.fields.find((f) => f.name === name);
  if (!field) throw new Error(`${message.typeName} has no field ${name} (named in a google.api.http annotation)`);
  return field;
}

/** `parts` has as many segments as the template (the table groups templates by length). */
function matchSegments(segments: readonly (string | DescField)[], parts: readonly string[]): Map<DescField, string> | undefined {
  // Literals first: most routes are ruled out by one, before anything is decoded or allocated.
  for (let i = 0; i < segments.length; i++) {
    if (typeof segments[i] === "string" && segments[i] !== parts[i]) return undefined;
  }
  const params = new Map<DescField, string>();
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const part = parts[i] ?? "";
    if (typeof segment !== "string") {
      if (part === "") return undefined;
      let value: string;
      try {
        value = decodeURIComponent(part);
      } catch {
        return undefined;
      }
      params.set(segment as DescField, value);
    }
  }
  return params;
}
