/*
 * The bundle's entry on the board: runs from Storage at boot. Configuration
 * is the build's embedded defaults overlaid by keybox.json in Storage (the
 * box's own identity, written at provisioning). A box that cannot start
 * stops its motor and says why on the console: it never unlocks.
 */
import { fixBuiltins } from "./lang";
import { createEspruinoHal } from "./index";
import { pinMap } from "./pins";
import { start } from "../../firmware/main";
import { SETTINGS_FILE, withDefaults } from "../../firmware/config";

fixBuiltins();
const build = typeof KEYBOX_BUILD === "undefined" ? undefined : KEYBOX_BUILD;
const hal = createEspruinoHal(pinMap(build && build.pins));
let stored: any;
try {
  stored = require("Storage").readJSON(SETTINGS_FILE, true);
} catch (e) {
  stored = undefined;
}
const config = withDefaults(Object.assign({}, (build && build.firmware) || {}, stored || {}));
try {
  start(hal, config);
} catch (e) {
  hal.latch.drive("stop");
  hal.log("keybox: boot failed: " + e);
}
