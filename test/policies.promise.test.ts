import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { createClient, InvalidInput, PolicyViolation, STARKNET_CONTRACTS, WalletHalted } from "starknet-session-keys/promise"

const PIN = "4242"
const USDC = STARKNET_CONTRACTS.USDC.contractAddress
const MERCHANT = "0x3e7c4a11"
const transfer = (amount: bigint, to = MERCHANT) => ({ contractAddress: USDC, entrypoint: "transfer", calldata: [to, "0x" + amount.toString(16), "0x0"] })

describe("policies and the kill switch through the Promise client", () => {
  it("a wallet budget and a session's allow-list; revokeAll stops the wallet at once and revokes on chain", async () => {
    const sdk = createClient({
      devnet: { blockTime: "20 millis" },
      policies: { all: { budgets: [{ token: USDC, amount: "100", windowSeconds: 86_400 }] } }
    })
    try {
      const wallet = await sdk.devnet!.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
      expect(() => sdk.sessions.createSessionKey({ encryptKey: PIN, policy: { allowedRecipients: ["not an address"] } })).toThrow(InvalidInput)
      const session = sdk.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 3600, policy: { allowedRecipients: [MERCHANT] } })
      await sdk.waitForTransaction(await sdk.sessions.addSessionKeyToContract({
        encryptKey: PIN,
        wallet,
        sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 10, allowedEntrypoints: [] }
      }))
      const execute = (amount: bigint, to?: string) =>
        sdk.executeTransactionWithSession({ params: { encryptKey: PIN, wallet, session, calls: [transfer(amount, to)] } })
      const handle = await sdk.devnet!.handle()
      const sent = (await Effect.runPromise(handle.transactions)).length
      const offList = await execute(1n, "0x5e4d").catch((e: unknown) => e)
      expect(offList).toBeInstanceOf(PolicyViolation)
      expect(offList).toMatchObject({ rule: "allowed-recipients", callIndex: 0, code: "POLICY_VIOLATION" })
      const overBudget = await execute(101n).catch((e: unknown) => e)
      expect(overBudget).toMatchObject({ rule: "budget", limit: 100n, spent: 0n })
      expect((await Effect.runPromise(handle.transactions)).length).toBe(sent)
      await sdk.waitForTransaction(await execute(100n))

      const result = await sdk.sessions.revokeAll({ encryptKey: PIN, wallet })
      expect(result.revoked).toEqual([session.publicKey])
      expect(await execute(0n).catch((e: unknown) => e)).toBeInstanceOf(WalletHalted)
      await sdk.waitForTransaction(result.transactionHashes[0]!)
      expect((await sdk.sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })).isActive).toBe(false)
    } finally {
      await sdk.close()
    }
  }, 60_000)

  it("a malformed policy in the options is a typed error on the client's first call (createClient never throws)", async () => {
    const sdk = createClient({ policies: { all: { maxCalls: 0 } } })
    expect(sdk.devnet).toBeUndefined()
    await expect(sdk.sessions.getSessionData({ walletAddress: "0x1", sessionPublicKey: "0x2" })).rejects.toBeInstanceOf(InvalidInput)
    await sdk.close()
  })
})
