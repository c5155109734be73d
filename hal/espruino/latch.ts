import { Drive, Input, Latch } from "../index";

/**
 * The H-bridge: both inputs low de-energises the motor. Every change passes
 * through both-low first, so the bridge can never see both directions.
 */
export class EspruinoLatch implements Latch {
  constructor(private readonly options: { motorA: string; motorB: string; bolt: Input }) {
    digitalWrite([options.motorA, options.motorB], 0);
  }

  get bolt(): Input {
    return this.options.bolt;
  }

  drive(direction: Drive): void {
    const o = this.options;
    digitalWrite([o.motorA, o.motorB], 0);
    if (direction === "open") digitalWrite(o.motorA, 1);
    else if (direction === "close") digitalWrite(o.motorB, 1);
  }
}
