import { isList } from "../store/bytes";
import { isBoxId } from "./codec";
import { IssuerKey, MAX_KEYS } from "./store";
import { keyIsSane } from "../crypto/keycheck";

/*
 * The provisioning file (JSON, written by `keybox-issuer provision`, loaded
 * by the simulator and the flasher):
 *   { "format": "keybox-provision/1",
 *     "boxId": "KB-000001",
 *     "keys": [ { "id": 4242, "publicKey": "<64 hex digits>" }, ... ] }
 * 1..8 keys with distinct ids 1..65535, each a canonical Ed25519 point
 * that is not of small order. The box trusts exactly these keys.
 */

export var PROVISION_FORMAT = "keybox-provision/1";

export interface Provisioning {
  boxId: string;
  keys: IssuerKey[];
}

/** Checks a parsed provisioning file. Returns the provisioning, or an error code. */
export function parseProvisioning(json: unknown): Provisioning | string {
  var o = json as { format?: unknown; boxId?: unknown; keys?: unknown };
  if (!o || typeof o !== "object") return "provision_json";
  if (o.format !== PROVISION_FORMAT) return "provision_format";
  if (typeof o.boxId !== "string" || !isBoxId(o.boxId)) return "provision_box_id";
  var list = o.keys;
  if (!isList(list) || list.length < 1 || list.length > MAX_KEYS) return "provision_keys";
  var keys: IssuerKey[] = [];
  var seen: { [id: string]: boolean } = {};
  for (var i = 0; i < list.length; i++) {
    var e = list[i] as { id?: unknown; publicKey?: unknown };
    if (!e || typeof e !== "object") return "provision_keys";
    var id = e.id;
    if (typeof id !== "number" || Math.floor(id) !== id || id < 1 || id > 65535 || seen[id]) return "provision_key_id";
    var hex = e.publicKey;
    if (typeof hex !== "string" || hex.length !== 64 || !/^[0-9a-fA-F]+$/.test(hex)) return "provision_public_key";
    var pk = new Uint8Array(32);
    for (var j = 0; j < 32; j++) pk[j] = parseInt(hex.substr(j * 2, 2), 16);
    if (!keyIsSane(pk)) return "provision_public_key";
    seen[id] = true;
    keys.push({ id: id, publicKey: pk });
  }
  return { boxId: o.boxId, keys: keys };
}
