import { spawnSync } from "child_process";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

describe("npm start (the desktop simulator)", () => {
  it("boots the demo box, learns the time from the emulated network and reports locked", () => {
    const r = spawnSync(TSX, [path.join(ROOT, "sim", "desktop.ts"), "--run-for-ms", "30000"], { cwd: ROOT, encoding: "utf8", timeout: 60000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Keybox simulator: box KB-DEMO01");
    expect(r.stdout).toMatch(/boot locked \{"version":"[0-9.]+","keys":1,"tables":0\}/);
    expect(r.stdout).toMatch(/modem registered/);
    expect(r.stdout).toMatch(/time set \{"src":"net"/);
    const status = JSON.parse(/^status (.*)$/m.exec(r.stdout)![1]);
    expect(status).toEqual(expect.objectContaining({ boxId: "KB-DEMO01", latch: "locked", keys: 1 }));
    expect(r.stdout).toMatch(/^energy: [0-9.]+ mAh in 0\.01 h, average [0-9.]+ uA .* years on a 3350 mAh /m);
  });

  it("says what is wrong with a provisioning file it cannot read", () => {
    const r = spawnSync(TSX, [path.join(ROOT, "sim", "desktop.ts"), "--provision", "/nonexistent.json", "--run-for-ms", "10"], { cwd: ROOT, encoding: "utf8", timeout: 60000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot read provisioning file \/nonexistent.json/);
  });
});
