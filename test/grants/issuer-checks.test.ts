import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { run } from "../../sim/issuer/main";

const NOW = 1780272000;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "keybox-issuer-checks-"));
  expect(tool("keygen", "--out", join(dir, "k"), "--id", "3").code).toBe(0);
  expect(tool("keygen", "--out", join(dir, "other"), "--id", "4").code).toBe(0);
  expect(tool("provision", "--box", "KB-000009", "--key", join(dir, "k.pub"), "--out", join(dir, "prov.json")).code).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tool(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = run(argv, { out: (l) => out.push(l), err: (l) => err.push(l), now: () => NOW });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("the issuer will not mint a grant that could never work", () => {
  test("a window that is already over is refused, with the way to fix it; one that ends within the box's tolerance is minted", () => {
    const dead = tool("mint", "--key", join(dir, "k.key"), "--box", "KB-000009", "--from=-3h", "--until=-1h");
    expect(dead.code).toBe(2);
    expect(dead.out).toBe("");
    expect(dead.err).toMatch(/window ends .* already past, so the grant could never open the box; give a later --until/);
    expect(tool("mint", "--key", join(dir, "k.key"), "--box", "KB-000009", "--from=-3h", "--until=-1m").code).toBe(0);
  });

  test("with the box's provisioning file, another box's id (even in another case) and an untrusted key are refused", () => {
    const lower = tool("mint", "--key", join(dir, "k.key"), "--box", "kb-000009", "--provision", join(dir, "prov.json"));
    expect(lower.code).toBe(2);
    expect(lower.err).toMatch(/--box kb-000009 but .*prov\.json is box KB-000009 \(box ids are case-sensitive\)/);
    const key = tool("mint", "--key", join(dir, "other.key"), "--box", "KB-000009", "--provision", join(dir, "prov.json"));
    expect(key.code).toBe(2);
    expect(key.err).toMatch(/box KB-000009 does not trust key 4 \(it trusts 3\)/);
    expect(tool("mint", "--key", join(dir, "k.key"), "--box", "KB-000009", "--provision", join(dir, "prov.json"))).toMatchObject({ code: 0 });
  });

  test("without one, a box id in lower case is minted with a warning", () => {
    const r = tool("mint", "--key", join(dir, "k.key"), "--box", "kb-demo01");
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^warning: box ids are case-sensitive: this grant opens only a box provisioned as exactly "kb-demo01", not "KB-DEMO01"/);
    expect(tool("mint", "--key", join(dir, "k.key"), "--box", "KB-DEMO01").err).not.toMatch(/warning/);
  });
});
