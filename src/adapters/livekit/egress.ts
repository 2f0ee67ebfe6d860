import { EgressClient, EgressStatus, EncodedFileOutput, EncodedFileType, S3Upload } from "livekit-server-sdk";
import type { EgressService } from "../../app/ports.js";
import { liveKitFailure } from "./failures.js";

export interface EgressOptions {
  readonly apiUrl: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly requestTimeoutMs: number;
  /** Where the egress worker uploads: MinIO/S3, path style. */
  readonly s3: {
    readonly endpoint: string;
    readonly accessKey: string;
    readonly secretKey: string;
    readonly bucket: string;
    readonly region: string;
  };
}

/** LiveKit room-composite egress to a file in S3/MinIO. */
export class LiveKitEgress implements EgressService {
  private readonly client: EgressClient;

  constructor(private readonly options: EgressOptions) {
    this.client = new EgressClient(options.apiUrl, options.apiKey, options.apiSecret, {
      requestTimeout: options.requestTimeoutMs / 1000,
      failover: false,
    });
  }

  async start(request: { roomName: string; fileKey: string; audioOnly: boolean; videoOnly: boolean }): Promise<string> {
    const { s3 } = this.options;
    const output = new EncodedFileOutput({
      // MP4 explicitly: left unset, LiveKit picks OGG for audio-only and changes the extension.
      fileType: EncodedFileType.MP4,
      filepath: request.fileKey,
      output: {
        case: "s3",
        value: new S3Upload({
          accessKey: s3.accessKey,
          secret: s3.secretKey,
          region: s3.region,
          endpoint: s3.endpoint,
          bucket: s3.bucket,
          forcePathStyle: true,
        }),
      },
    });
    try {
      const info = await this.client.startRoomCompositeEgress(request.roomName, output, {
        audioOnly: request.audioOnly,
        videoOnly: request.videoOnly,
      });
      return info.egressId;
    } catch (cause) {
      throw liveKitFailure(cause, "LiveKit could not start recording the call; try again shortly");
    }
  }

  async stop(egressId: string): Promise<void> {
    try {
      await this.client.stopEgress(egressId);
    } catch (cause) {
      // 412: it already ended; 404: LiveKit no longer knows it. Either way it is not running.
      const status = (cause as { status?: unknown }).status;
      if (status === 412 || status === 404) return;
      throw liveKitFailure(cause, "LiveKit could not stop the recording; try again shortly");
    }
  }

  async listActive(): Promise<{ egressId: string; roomName: string }[]> {
    try {
      const items = await this.client.listEgress({ active: true });
      return items
        .filter((e) => e.status === EgressStatus.EGRESS_STARTING || e.status === EgressStatus.EGRESS_ACTIVE)
        .map((e) => ({ egressId: e.egressId, roomName: e.roomName }));
    } catch (cause) {
      throw liveKitFailure(cause, "LiveKit did not list its egresses");
    }
  }
}
