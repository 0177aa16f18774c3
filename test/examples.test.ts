import { describe, expect, it } from "vitest"
import { main as devnetFaults } from "../docs/examples/devnet-faults.js"
import { main as puttingItTogether } from "../docs/examples/putting-it-together.js"

describe("docs/examples", () => {
  it("the guide's 'Putting it together' runs unchanged against createClient() on the embedded devnet", async () => {
    const result = await puttingItTogether()
    expect(result.txHash).toMatch(/^0x[0-9a-f]+$/)
    expect(result.receipt.executionStatus).toBe("SUCCEEDED")
    expect(result.recipientBalance).toBe(1_000n)
    expect(result.walletBalance).toBe(5_000_000n - 1_000n)
  }, 60_000)

  // The guide executes as soon as the registration's status says SUCCEEDED, which RPC 0.9 answers while it is only
  // pre-confirmed: the execute is judged (and run) on the block being built, whatever the block time.
  for (const blockTime of ["2 seconds", "6 seconds"] as const) {
    it(`the guide's code runs as written on ${blockTime} blocks`, async () => {
      const result = await puttingItTogether(blockTime)
      expect(result.receipt.executionStatus).toBe("SUCCEEDED")
      expect(result.recipientBalance).toBe(1_000n)
    }, 60_000)
  }

  it("devnet-faults: tampered typed data is refused, transient faults are survived, a lost answer is resolved from the chain", async () => {
    expect(await devnetFaults()).toEqual({
      refusedTamperedTypedData: true,
      field: "message.Calls.0.Calldata.0",
      executedDespiteFaults: "SUCCEEDED",
      lostAnswerResolved: "SUCCEEDED",
      recipientBalance: 200n
    })
  }, 30_000)
})
