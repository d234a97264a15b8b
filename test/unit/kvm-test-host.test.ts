import { strict as assert } from "node:assert";
import { realHostFromEnv } from "../support/kvm-test-host";

describe("opting the libvirt host tests into a real KVM host", () => {
  it("is off without KVMTUNE_TEST_KVM_HOST", () => {
    assert.equal(realHostFromEnv({}), undefined);
  });
  it("refuses a host without a pinned key, and a malformed address", () => {
    assert.throws(() => realHostFromEnv({ KVMTUNE_TEST_KVM_HOST: "hv01" }), { message: /KVMTUNE_TEST_KVM_HOST_KEY is not: the host key must be pinned/ });
    assert.throws(() => realHostFromEnv({ KVMTUNE_TEST_KVM_HOST: "hv01:x", KVMTUNE_TEST_KVM_HOST_KEY: "ssh-ed25519 AAAA" }), { message: `KVMTUNE_TEST_KVM_HOST: "hv01:x" is not accepted; expected host or host:port` });
  });
});
