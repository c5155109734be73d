import { LAYOUT } from "../../firmware/ble/protocol";
import { DriverLink, LinkError } from "./link";
import { Listeners } from "../hw/listeners";

/** The optional Node BLE library this client can use for a real box. */
export const NOBLE_PACKAGE = "@abandonware/noble";

/**
 * Loads the BLE library. It is an optional dependency: { missing: true } when
 * it is not installed; { error } when it is installed but cannot start (no
 * Bluetooth adapter, no permission to open the HCI socket).
 */
export function loadNoble(): { noble: unknown } | { missing: true } | { error: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return { noble: require(NOBLE_PACKAGE) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err && err.code === "MODULE_NOT_FOUND" && String(err.message).indexOf(NOBLE_PACKAGE) >= 0) return { missing: true };
    return { error: String(err && err.message ? err.message : err).split("\n")[0] };
  }
}

function bare(uuid: string): string {
  return uuid.replace(/-/g, "").toLowerCase();
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Finds a box by its advertised name ("Keybox <id>", any box when boxId is
 * empty), connects and subscribes to the response characteristic. Noble does
 * not report whether the link is encrypted: the box requests LE Secure
 * Connections itself and refuses requests on an unencrypted link, so the
 * client learns it from the box's answer (link_unencrypted).
 */
export function connectNoble(options: { noble: unknown; boxId: string; timeoutMs: number; onStep?: (s: string) => void }): Promise<DriverLink> {
  const noble = options.noble as any;
  const step = options.onStep || (() => undefined);
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => fail("ble_timeout", "no box found or connected within " + options.timeoutMs + " ms"), options.timeoutMs);
    function fail(code: string, why: string) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        noble.stopScanning();
      } catch (e) {
        /* already stopped */
      }
      reject(new LinkError(code, why));
    }
    function scan() {
      step("scanning for " + (options.boxId ? "Keybox " + options.boxId : "any Keybox"));
      noble.on("discover", onDiscover);
      noble.startScanning([], false);
    }
    function onDiscover(p: any) {
      const name: string = (p.advertisement && p.advertisement.localName) || "";
      if (name.indexOf("Keybox ") !== 0) return;
      if (options.boxId && name !== "Keybox " + options.boxId) return;
      noble.removeListener("discover", onDiscover);
      noble.stopScanning();
      step("found " + name + " (" + p.address + "), connecting");
      p.connect((err: unknown) => {
        if (err) return fail("ble_connect", "connect failed: " + String(err));
        p.discoverSomeServicesAndCharacteristics(
          [bare(LAYOUT.service)],
          [bare(LAYOUT.info), bare(LAYOUT.request), bare(LAYOUT.response)],
          (err2: unknown, _services: unknown, chars: any[]) => {
            if (err2 || !chars) return fail("ble_discover", "service discovery failed: " + String(err2));
            const byUuid: { [u: string]: any } = {};
            for (const c of chars) byUuid[c.uuid] = c;
            const info = byUuid[bare(LAYOUT.info)];
            const req = byUuid[bare(LAYOUT.request)];
            const resp = byUuid[bare(LAYOUT.response)];
            if (!info || !req || !resp) return fail("ble_not_keybox", name + " does not have the Keybox service");
            info.read((err3: unknown, data: Buffer) => {
              if (err3) return fail("ble_read", "reading info failed: " + String(err3));
              resp.subscribe((err4: unknown) => {
                if (err4) return fail("ble_subscribe", "subscribing failed: " + String(err4));
                const notified = new Listeners<Uint8Array>();
                const closed = new Listeners<string>();
                resp.on("data", (d: Buffer) => notified.emit(new Uint8Array(d)));
                p.once("disconnect", () => closed.emit("ble_disconnected"));
                done = true;
                clearTimeout(timer);
                resolve({
                  encrypted: undefined,
                  describe: name + " over Bluetooth (" + p.address + ")",
                  info: new Uint8Array(data),
                  write: (f) => req.write(Buffer.from(f), true),
                  onNotify: (cb) => {
                    notified.add(cb);
                  },
                  onClose: (cb) => {
                    closed.add(cb);
                  },
                  close: () => p.disconnect(),
                });
              });
            });
          },
        );
      });
    }
    const state = noble.state || noble._state;
    if (state === "poweredOn") return scan();
    step("waiting for the Bluetooth adapter (state " + state + ")");
    noble.on("stateChange", (s: string) => {
      if (s === "poweredOn") scan();
      else if (s === "unsupported" || s === "unauthorized" || s === "poweredOff")
        fail("ble_adapter_" + s, "the Bluetooth adapter is " + s);
    });
  });
}
