import { Handle } from "../../hal";

/**
 * A byte stream to a server: what the MQTT client needs from a transport.
 * The BG96 driver provides one over the modem's TCP socket; tests provide
 * one over a real Node socket. write's callback reports once, never
 * synchronously; onClose fires once with a reason code.
 */
export interface ByteSocket {
  write(data: Uint8Array, cb?: (err?: string) => void): void;
  onData(cb: (data: Uint8Array) => void): Handle;
  onClose(cb: (reason: string) => void): Handle;
  close(): void;
}
