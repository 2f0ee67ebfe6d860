import { isMessage, type Message } from "@bufbuild/protobuf";
import type { Logger } from "../../app/ports.js";
import { CallError, CallErrorCode } from "../../domain/errors.js";
import { asCallError, sendCallError } from "../error-catalogue.js";
import { sendJsonText, type NodeRequest, type NodeResponse } from "../http-types.js";
import { parseJsonObject, readBody } from "./body.js";
import { queryToJson } from "./query.js";
import { restJsonToMessage } from "./rest-json.js";
import { listToRestJsonText, messageToRestJsonText } from "./rest-json-writer.js";
import type { RestRoute, RouteMatch, RouteTable } from "./route-table.js";

export interface RestGatewayOptions {
  readonly routes: RouteTable;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
}

/**
 * The documented JSON surface (`/v1/calls/...`). It calls the shared handlers
 * directly instead of going through Connect's protocol layer, which costs
 * several times a bare `node:http` reply (docs/architecture.md), and wraps every answer in
 * the `{"data": …}` / `{"error": {"code","message"}}` envelope.
 */
export class RestGateway {
  constructor(private readonly options: RestGatewayOptions) {}

  /** Answers one request; `requestId` names it (X-Request-Id) to the handlers and in the error log. */
  async handle(req: NodeRequest, res: NodeResponse, requestId: string): Promise<void> {
    // The signal is made only if a handler asks for it (an AbortController per request showed in the profile);
    // only a client gone before its answer aborts the work.
    let controller: AbortController | undefined;
    let clientGone = false;
    res.once("close", () => {
      if (res.writableFinished) return;
      clientGone = true;
      controller?.abort();
    });
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const match = this.match(req, res, url.pathname);
      // The body is read only once the caller is authenticated (by the registry).
      const request = {
        authorization: req.headers.authorization,
        get signal(): AbortSignal {
          controller ??= new AbortController();
          if (clientGone) controller.abort();
          return controller.signal;
        },
        protocol: "rest",
        requestId,
      };
      const output = await match.route.target.invoke(request, () => this.decodeInput(req, match, url.searchParams));
      sendJsonText(res, 200, `{"data":${encodeOutput(match.route, output)}}`);
    } catch (err) {
      const error = asCallError(err, this.options.logger, requestId);
      sendCallError(res, error, error.code === CallErrorCode.PayloadTooLarge ? { connection: "close" } : {});
    }
  }

  private match(req: NodeRequest, res: NodeResponse, path: string): RouteMatch {
    const method = req.method ?? "GET";
    const lookup = this.options.routes.lookup(method, path);
    if (lookup.kind === "found") return lookup.match;
    if (lookup.kind === "wrong-method") {
      res.setHeader("allow", lookup.allowed.join(", "));
      throw new CallError(CallErrorCode.MethodNotAllowed, `${method} is not allowed on ${path}; use ${lookup.allowed.join(" or ")}`);
    }
    throw new CallError(CallErrorCode.RouteNotFound, `no such endpoint: ${method} ${path}`);
  }

  private async decodeInput(req: NodeRequest, { route, pathParams }: RouteMatch, query: URLSearchParams): Promise<Message> {
    const json = route.bodyIsRequest ? parseJsonObject(await readBody(req, this.options.maxBodyBytes)) : queryToJson(route, query);
    // Path parameters win over body fields of the same name (as in grpc-gateway).
    for (const [field, value] of pathParams) {
      delete json[field.jsonName];
      json[field.name] = value;
    }
    try {
      return restJsonToMessage(route.target.method.input, json);
    } catch (cause) {
      const detail = cause instanceof Error ? cause.message : String(cause);
      throw new CallError(CallErrorCode.InvalidArgument, `invalid request: ${detail}`, { cause });
    }
  }
}

/** The answer's REST JSON text (what goes in `{"data": …}`): the response, or its `response_body` field. */
export function encodeOutput(route: RestRoute, output: Message): string {
  const field = route.responseField;
  if (!field) return messageToRestJsonText(route.target.method.output, output);
  if (field.fieldKind === "list") return listToRestJsonText(field, output);
  const value = (output as unknown as Record<string, unknown>)[field.localName];
  if (field.fieldKind === "message" && isMessage(value, field.message)) return messageToRestJsonText(field.message, value);
  return "null";
}
