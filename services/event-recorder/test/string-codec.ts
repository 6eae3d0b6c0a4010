/** Bytes for raw publishes in tests that put non-events on the events stream. */
export class StringCodec {
  private readonly encoder = new TextEncoder()
  encode (text: string): Uint8Array { return this.encoder.encode(text) }
}
