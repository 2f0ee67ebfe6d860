import { Client } from "minio";
import type { ObjectStore } from "../../app/ports.js";

export interface S3Options {
  /** http(s)://host:port of MinIO/S3. */
  readonly endpoint: string;
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
  private readonly client: Client;

  constructor(options: S3Options) {
    const url = new URL(options.endpoint);
    this.bucket = options.bucket;
    this.region = options.region;
    this.client = new Client({
      endPoint: url.hostname,
      port: url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80,
      useSSL: url.protocol === "https:",
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      region: options.region,
      pathStyle: true,
    });
  }

  async stat(key: string): Promise<{ sizeBytes: number } | undefined> {
    try {
      const stat = await this.client.statObject(this.bucket, key);
      return { sizeBytes: stat.size };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === "NotFound" || code === "NoSuchKey") return undefined;
      throw err;
    }
  }

  presignGet(key: string, ttlSeconds: number): Promise<string> {
    return this.client.presignedGetObject(this.bucket, key, ttlSeconds);
  }

  download(key: string, path: string): Promise<void> {
    return this.client.fGetObject(this.bucket, key, path);
  }

  async upload(key: string, body: string | Buffer, contentType: string): Promise<void> {
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    await this.client.putObject(this.bucket, key, bytes, bytes.length, { "Content-Type": contentType });
  }

  /** Creates the bucket if it does not exist (at start-up; failures are the caller's to log). */
  async ensureBucket(): Promise<void> {
    if (!(await this.client.bucketExists(this.bucket))) await this.client.makeBucket(this.bucket, this.region);
  }
}
