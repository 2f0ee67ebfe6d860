import type { Client } from "minio";
import type { ObjectStore } from "../../app/ports.js";

export interface S3Options {
  /** http(s)://host:port of MinIO/S3, as this service reaches it. */
  readonly endpoint: string;
  /** http(s)://host:port of MinIO/S3 as clients reach it, for download URLs; undefined: `endpoint`. */
  readonly publicEndpoint?: string | undefined;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly bucket: string;
  readonly region: string;
}

/**
 * The recordings bucket in MinIO/S3 (path style). The region is configured so
 * that presigning is a local computation, not a request to the server.
 */
export class MinioObjectStore implements ObjectStore {
  readonly bucket: string;
  private readonly region: string;
  /**
   * Loaded on construction, not imported by this module: the MinIO client and
   * its dependencies add ~30 MiB of resident memory, which a deployment
   * without recordings (no S3 configured, no store built) should not carry.
   */
  private readonly loading: Promise<Client>;
  /**
   * Signs download URLs for the address clients use: a signature covers the
   * Host header, so a URL signed for the internal address fails under another
   * name. It only signs (the region is given), never connects.
   */
  private readonly signing: Promise<Client>;

  constructor(options: S3Options) {
    this.bucket = options.bucket;
    this.region = options.region;
    const minio = import("minio");
    const client = (endpoint: string) =>
      minio.then(({ Client }) => {
        const url = new URL(endpoint);
        return new Client({
          endPoint: url.hostname,
          port: url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80,
          useSSL: url.protocol === "https:",
          accessKey: options.accessKey,
          secretKey: options.secretKey,
          region: options.region,
          pathStyle: true,
        });
      });
    this.loading = client(options.endpoint);
    this.signing = options.publicEndpoint === undefined ? this.loading : client(options.publicEndpoint);
    // A failure surfaces on first use; never as an unhandled rejection.
    this.loading.catch(() => undefined);
    this.signing.catch(() => undefined);
  }

  async stat(key: string): Promise<{ sizeBytes: number } | undefined> {
    try {
      const stat = await (await this.loading).statObject(this.bucket, key);
      return { sizeBytes: stat.size };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === "NotFound" || code === "NoSuchKey") return undefined;
      throw err;
    }
  }

  async presignGet(key: string, ttlSeconds: number): Promise<string> {
    return (await this.signing).presignedGetObject(this.bucket, key, ttlSeconds);
  }

  async download(key: string, path: string): Promise<void> {
    return (await this.loading).fGetObject(this.bucket, key, path);
  }

  async upload(key: string, body: string | Buffer, contentType: string): Promise<void> {
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    await (await this.loading).putObject(this.bucket, key, bytes, bytes.length, { "Content-Type": contentType });
  }

  /** Creates the bucket if it does not exist (at start-up; failures are the caller's to log). */
  async ensureBucket(): Promise<void> {
    const client = await this.loading;
    if (!(await client.bucketExists(this.bucket))) await client.makeBucket(this.bucket, this.region);
  }
}
