import { Ble, BleLink, GattLayout, Handle } from "../index";

type Listener<T> = (value: T) => void;

/**
 * NRF as the one-service peripheral of hal/ble.ts. The console's Nordic
 * UART service is removed unless publish() is asked for it, so nobody in
 * range can type JavaScript into a production box; LE Secure Connections
 * pairing is requested for every link.
 */
export class EspruinoBle implements Ble {
  private layout: GattLayout | undefined;
  private connected = false;
  private connects: Array<Listener<BleLink>> = [];
  private secures: Array<Listener<BleLink>> = [];
  private disconnects: Array<Listener<void>> = [];
  private writes: Array<Listener<Uint8Array>> = [];
  private info = new Uint8Array(0);
  private intervalMs = 375;

  constructor() {
    const self = this;
    NRF.on("connect", function () {
      self.connected = true;
      emit(self.connects, self.link());
    });
    NRF.on("disconnect", function () {
      self.connected = false;
      emit(self.disconnects, undefined);
    });
    NRF.on("security", function () {
      if (self.connected) emit(self.secures, self.link());
    });
  }

  publish(layout: GattLayout, options: { console: boolean }): void {
    this.layout = layout;
    NRF.setSecurity({ lesc: 1, mitm: 0, display: 0, keyboard: 0, bond: 1 });
    this.apply(options.console);
  }

  setInfo(value: Uint8Array): void {
    this.info = value;
    if (this.layout) this.update(this.layout.info, { value: value, readable: true });
  }

  notify(frame: Uint8Array): void {
    if (this.layout && this.connected) this.update(this.layout.response, { value: frame, notify: true });
  }

  setRadio(options: { intervalMs: number; txDbm: number }): void {
    this.intervalMs = options.intervalMs;
    if (NRF.setTxPower) NRF.setTxPower(options.txDbm);
  }

  advertise(name: string, manufacturerData: Uint8Array): void {
    const data: number[] = [];
    for (let i = 2; i < manufacturerData.length; i++) data.push(manufacturerData[i]);
    NRF.setAdvertising({}, { name: name, manufacturer: manufacturerData[0] | (manufacturerData[1] << 8), manufacturerData: data, interval: this.intervalMs });
  }

  onConnect(cb: (link: BleLink) => void): Handle {
    return add(this.connects, cb);
  }

  onSecured(cb: (link: BleLink) => void): Handle {
    return add(this.secures, cb);
  }

  onDisconnect(cb: () => void): Handle {
    return add(this.disconnects, cb);
  }

  onWrite(cb: (frame: Uint8Array) => void): Handle {
    return add(this.writes, cb);
  }

  disconnect(): void {
    NRF.disconnect();
  }

  private link(): BleLink {
    return { encrypted: !!NRF.getSecurityStatus().encrypted };
  }

  private apply(consoleOn: boolean): void {
    const l = this.layout!;
    const self = this;
    const chars: any = {};
    chars[l.info] = { value: this.info, readable: true };
    chars[l.request] = {
      writable: true,
      value: new Uint8Array(20),
      maxLen: 20,
      onWrite: function (evt: { data: ArrayBuffer }) {
        emit(self.writes, new Uint8Array(evt.data));
      },
    };
    chars[l.response] = { notify: true, readable: true, value: new Uint8Array(20), maxLen: 20 };
    const services: any = {};
    services[l.service] = chars;
    NRF.setServices(services, { uart: consoleOn, advertise: [l.service] });
  }

  private update(uuid: string, value: any): void {
    const chars: any = {};
    chars[uuid] = value;
    const services: any = {};
    services[this.layout!.service] = chars;
    NRF.updateServices(services);
  }
}

function emit<T>(list: Array<Listener<T>>, value: T): void {
  const copy = list.slice();
  for (let i = 0; i < copy.length; i++) copy[i](value);
}

function add<T>(list: Array<Listener<T>>, cb: Listener<T>): Handle {
  list.push(cb);
  return {
    cancel: function () {
      const i = list.indexOf(cb);
      if (i >= 0) list.splice(i, 1);
    },
  };
}
