// Two owners of one setting in one inline program: the real engine's preview
// fails in the second owner's check, naming both, instead of an unhandled
// rejection inside an output that left the Automation API program hanging.
import { strict as assert } from "node:assert";
import { TunedHost } from "../../components/tuned-host";
import { inlineStack, type EngineStack } from "../support/engine";
import { freePort } from "../support/ssh-client";
import { suiteKeys } from "../support/keys";

describe("Setting ownership with the real Pulumi engine", function () {
  this.timeout(300_000);
  let engine: EngineStack;

  before(async () => {
    // No host answers there: the conflict is found in the program, before any host is needed.
    const connection = { host: "127.0.0.1", port: await freePort(), privateKey: suiteKeys().clientPrivateKey, hostKey: suiteKeys().hostPublicKey };
    engine = await inlineStack("kvmtune-ownership", async () => {
      new TunedHost("owner-a", { connection, sysctl: { "vm.swappiness": 10 } });
      new TunedHost("owner-b", { connection, sysctl: { "vm.swappiness": 20, "vm.dirty_ratio": 5 } });
    });
  });
  after(async () => {
    await engine?.stack.workspace.removeStack("dev", { force: true }).catch(() => undefined);
  });

  it("preview fails naming both owners and the key, and the program does not hang", async () => {
    await assert.rejects(engine.run((onOutput) => engine.stack.preview({ onOutput })));
    const out = engine.output();
    assert.ok(out.includes("TunedHost \"owner-b\" and TunedHost \"owner-a\" both set sysctl:vm.swappiness on 127.0.0.1:"), out);
    assert.ok(!out.includes("error serializing property"), out);
    assert.ok(!out.includes("Unhandled exception"), out);
  });
});
