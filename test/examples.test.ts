import { describe, expect, it } from "vitest"
import { main as devnetFaults } from "../docs/examples/devnet-faults.js"
import { main as metrics } from "../docs/examples/metrics.js"
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

  it("metrics: after the guide flow and a refused execute, the counters say so", async () => {
    const { lines, refusal } = await metrics()
    expect(refusal).toBe("MaxCallsExceeded")
    // The registry is the process's: the other examples of this file count there too.
    const count = (key: string) => Number(lines.find((l) => l.startsWith(key + " "))?.slice(key.length + 1) ?? 0)
    expect(count("starknet_session_executes_total{outcome=sent}")).toBeGreaterThanOrEqual(1)
    expect(count("starknet_session_executes_total{outcome=failed,error=MaxCallsExceeded}")).toBeGreaterThanOrEqual(1)
    expect(count("starknet_session_preflight_refusals_total{reason=MaxCallsExceeded}")).toBeGreaterThanOrEqual(1)
    // The waits heard their statuses through the WebSocket subscriptions: no status was polled.
    expect(lines.some((l) => l.startsWith("starknet_session_rpc_latency_ms{method=starknet_getTransactionStatus}"))).toBe(false)
    expect(lines.some((l) => l.startsWith("starknet_session_paymaster_latency_ms{method=paymaster_executeTransaction} count "))).toBe(true)
    expect(lines.some((l) => l.startsWith("starknet_session_rpc_latency_ms{method=starknet_call} count "))).toBe(true)
  }, 60_000)
})
