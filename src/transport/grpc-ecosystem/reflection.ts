import {
  create,
  fromBinary,
  toBinary,
  type DescEnum,
  type DescFile,
  type DescMessage,
  type DescService,
  type FileRegistry,
  type Registry,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import * as v1 from "../../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** The schema reflection answers from: generated files (`file_…` exports, `Service.file`) or a registry of them. */
export type ReflectionFiles = Iterable<DescFile> | Registry;

type Answer = v1.ServerReflectionResponse["messageResponse"];

/**
 * gRPC server reflection (`grpc.reflection.v1.ServerReflection` and the older
 * `grpc.reflection.v1alpha` one, which grpcurl falls back to), so grpcurl,
 * `buf curl`, Postman and friends can list, describe and call the services
 * without having the .proto files. It exposes only the public contract, so it
 * needs no token.
 *
 * `services` are the names list_services reports; their files, `files` and
 * every transitive dependency are what the other requests can find. Files go
 * out as serialized FileDescriptorProtos, the requested one first, followed by
 * those of its transitive dependencies this stream has not sent yet (as
 * grpc-go's reflection does).
 */
export function reflectionRoutes(files: ReflectionFiles, services: readonly DescService[]): (router: ConnectRouter) => void {
  const index = new ReflectionIndex(files, services);
  return (router) => {
    router.service(v1.ServerReflection, {
      async *serverReflectionInfo(requests) {
        const sent = new Set<string>();
        for await (const request of requests) yield index.respond(request, sent);
      },
    });
    // v1alpha has the same messages under another package: same bytes on the wire.
    router.service(v1alpha.ServerReflection, {
      async *serverReflectionInfo(requests) {
        const sent = new Set<string>();
        for await (const request of requests) {
          const response = index.respond(fromBinary(v1.ServerReflectionRequestSchema, toBinary(v1alpha.ServerReflectionRequestSchema, request)), sent);
          yield fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(v1.ServerReflectionResponseSchema, response));
        }
      },
    });
  };
}

function isRegistry(files: ReflectionFiles): files is Registry {
  return (files as Partial<Registry>).kind === "registry";
}

/** Everything reflection can be asked about, indexed once. */
class ReflectionIndex {
  /** By file name as imported (`scaiwave/calls/v1/calls.proto`). */
  private readonly files = new Map<string, DescFile>();
  /** Fully-qualified names of messages, fields, oneofs, enums, enum values, services, methods and extensions. */
  private readonly symbols = new Map<string, DescFile>();
  private readonly messages = new Set<string>();
  /** Extendee type name → extension number → file declaring the extension. */
  private readonly extensions = new Map<string, Map<number, DescFile>>();
  private readonly encoded = new Map<string, Uint8Array>();
  private readonly serviceNames: string[];

  constructor(files: ReflectionFiles, services: readonly DescService[]) {
    this.serviceNames = services.map((s) => s.typeName);
    const roots: DescFile[] = [];
    if (isRegistry(files)) {
      const fileRegistry = files as Partial<FileRegistry>;
      if (fileRegistry.files) roots.push(...fileRegistry.files);
      for (const desc of files) roots.push(desc.file);
    } else {
      roots.push(...files);
    }
    roots.push(...services.map((s) => s.file));
    for (const file of roots) this.addFile(file);
  }

  respond(request: v1.ServerReflectionRequest, sent: Set<string>): v1.ServerReflectionResponse {
    return create(v1.ServerReflectionResponseSchema, {
      validHost: request.host,
      originalRequest: request,
      messageResponse: this.answer(request.messageRequest, sent),
    });
  }

  private answer(req: v1.ServerReflectionRequest["messageRequest"], sent: Set<string>): Answer {
    switch (req.case) {
      case "listServices":
        return { case: "listServicesResponse", value: create(v1.ListServiceResponseSchema, { service: this.serviceNames.map((name) => ({ name })) }) };
      case "fileByFilename":
        return this.fileAnswer(this.files.get(req.value), `file not found: ${req.value}`, sent);
      case "fileContainingSymbol": {
        const symbol = req.value.replace(/^\./, "");
        return this.fileAnswer(this.symbols.get(symbol), `symbol not found: ${symbol}`, sent);
      }
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = req.value;
        const file = this.extensions.get(containingType.replace(/^\./, ""))?.get(extensionNumber);
        return this.fileAnswer(file, `extension not found: ${containingType} ${extensionNumber}`, sent);
      }
      case "allExtensionNumbersOfType": {
        const baseTypeName = req.value.replace(/^\./, "");
        if (!this.messages.has(baseTypeName)) return notFound(`type not found: ${baseTypeName}`);
        const extensionNumber = [...(this.extensions.get(baseTypeName)?.keys() ?? [])].sort((a, b) => a - b);
        return { case: "allExtensionNumbersResponse", value: create(v1.ExtensionNumberResponseSchema, { baseTypeName, extensionNumber }) };
      }
      default:
        throw new ConnectError("invalid MessageRequest: none set", Code.InvalidArgument);
    }
  }

  /** The file, then those of its transitive dependencies not sent on this stream yet. */
  private fileAnswer(file: DescFile | undefined, missing: string, sent: Set<string>): Answer {
    if (!file) return notFound(missing);
    const fileDescriptorProto: Uint8Array[] = [];
    const queue = [file];
    const queued = new Set<string>([file.proto.name]);
    for (let next = queue.shift(); next; next = queue.shift()) {
      const name = next.proto.name;
      if (next === file || !sent.has(name)) {
        sent.add(name);
        fileDescriptorProto.push(this.encode(next));
      }
      for (const dep of next.dependencies) {
        if (queued.has(dep.proto.name)) continue;
        queued.add(dep.proto.name);
        queue.push(dep);
      }
    }
    return { case: "fileDescriptorResponse", value: create(v1.FileDescriptorResponseSchema, { fileDescriptorProto }) };
  }

  private encode(file: DescFile): Uint8Array {
    let bytes = this.encoded.get(file.proto.name);
    if (!bytes) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.encoded.set(file.proto.name, bytes);
    }
    return bytes;
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.proto.name)) return;
    this.files.set(file.proto.name, file);
    for (const dep of file.dependencies) this.addFile(dep);
    for (const message of file.messages) this.addMessage(file, message);
    for (const e of file.enums) this.addEnum(file, e);
    for (const ext of file.extensions) this.addExtension(file, ext);
    for (const service of file.services) {
      this.addSymbol(service.typeName, file);
      for (const method of service.methods) this.addSymbol(`${service.typeName}.${method.name}`, file);
    }
  }

  private addMessage(file: DescFile, message: DescMessage): void {
    this.addSymbol(message.typeName, file);
    this.messages.add(message.typeName);
    for (const field of message.fields) this.addSymbol(`${message.typeName}.${field.name}`, file);
    for (const oneof of message.oneofs) this.addSymbol(`${message.typeName}.${oneof.name}`, file);
    for (const nested of message.nestedMessages) this.addMessage(file, nested);
    for (const e of message.nestedEnums) this.addEnum(file, e);
    for (const ext of message.nestedExtensions) this.addExtension(file, ext);
  }

  private addEnum(file: DescFile, e: DescEnum): void {
    this.addSymbol(e.typeName, file);
    // Enum values are scoped like C++ enumerators: siblings of their enum, not children.
    const scope = e.typeName.includes(".") ? e.typeName.slice(0, e.typeName.lastIndexOf(".") + 1) : "";
    for (const value of e.values) this.addSymbol(scope + value.name, file);
  }

  private addExtension(file: DescFile, ext: DescFile["extensions"][number]): void {
    this.addSymbol(ext.typeName, file);
    let byNumber = this.extensions.get(ext.extendee.typeName);
    if (!byNumber) this.extensions.set(ext.extendee.typeName, (byNumber = new Map()));
    if (!byNumber.has(ext.number)) byNumber.set(ext.number, file);
  }

  private addSymbol(name: string, file: DescFile): void {
    if (!this.symbols.has(name)) this.symbols.set(name, file);
  }
}

function notFound(errorMessage: string): Answer {
  return { case: "errorResponse", value: create(v1.ErrorResponseSchema, { errorCode: Code.NotFound, errorMessage }) };
}
