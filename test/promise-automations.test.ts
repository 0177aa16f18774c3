import { describe, expect, it } from "vitest"
import { createClient, STARKNET_CONTRACTS } from "starknet-session-keys/promise"

describe("the Promise client's automations", () => {
  it("start (with a spending policy), status, awaitEnd on the embedded devnet; a typed rejection for an unknown id", async () => {
    const sdk = createClient({ devnet: { blockTime: "20 millis" } })
    try {
      const wallet = await sdk.devnet!.createWallet({ encryptKey: "1234", fund: { USDC: 100_000n } })
      const automations = await sdk.automations({ serverKey: "server key", pollIntervalMs: 20 })
      const transfer = (amount: bigint) => ({
        contractAddress: STARKNET_CONTRACTS.USDC.contractAddress,
        entrypoint: "transfer",
        calldata: ["0x7e0c1e4", "0x" + amount.toString(16), "0x0"]
      })
      const started = await automations.start({
        automationId: "promise-1",
        wallet,
        pin: "1234",
        calls: (k) => [transfer(100n + BigInt(k))],
        schedule: { everyMs: 100, times: 2 },
        // Exactly what the two steps move.
        spendingPolicy: { token: STARKNET_CONTRACTS.USDC.contractAddress, maxPerCall: 101n, maxPerWindow: 201n, windowSeconds: 3_600 }
      })
      expect(started.stepsTotal).toBe(2)
      expect(await automations.awaitEnd("promise-1")).toEqual({ state: "completed", stepsDone: 2 })
      const status = await automations.status("promise-1")
      expect(status.steps.length).toBe(2)
      const handle = await sdk.devnet!.handle()
      const { Effect } = await import("effect")
      expect(await Effect.runPromise(handle.balanceOf(STARKNET_CONTRACTS.USDC.contractAddress, "0x7e0c1e4"))).toBe(201n)
      const policy = await sdk.sessions.getSpendingPolicy({
        walletAddress: wallet.publicKey,
        sessionPublicKey: started.sessionPublicKey,
        token: STARKNET_CONTRACTS.USDC.contractAddress
      })
      expect(policy).toMatchObject({ maxPerCall: 101n, maxPerWindow: 201n, spentInWindow: 201n, remainingInWindow: 0n })
      await expect(automations.status("nope")).rejects.toMatchObject({ _tag: "AutomationNotFound" })
      await automations.close()
    } finally {
      await sdk.close()
    }
  })
})
