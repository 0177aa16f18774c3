import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { createClient, EntrypointNotAllowed, SpendingLimitExceeded, STARKNET_CONTRACTS } from "starknet-session-keys/promise"
import * as chain from "./helpers/chain.js"
import * as keystore from "../src/internal/crypto/keystore.js"
import { main as spendingPolicyExample } from "../docs/examples/spending-policy.js"

const PIN = "4242"
const USDC_ADDRESS = STARKNET_CONTRACTS.USDC.contractAddress
const RECIPIENT = "0x5e4d"
const transfer = (amount: bigint) => ({ contractAddress: USDC_ADDRESS, entrypoint: "transfer", calldata: [RECIPIENT, "0x" + amount.toString(16), "0x0"] })

describe("spending policies through the Promise client (the Chipi SDK's calls)", () => {
  it("set, spend, refused locally, read, the window passes, removed", async () => {
    const sdk = createClient({ devnet: { blockTime: "20 millis" } })
    try {
      const userWallet = await sdk.devnet!.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
      const session = sdk.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 4 * 3600 })
      await sdk.waitForTransaction(await sdk.sessions.addSessionKeyToContract({
        encryptKey: PIN,
        wallet: userWallet,
        sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 10, allowedEntrypoints: [] }
      }, "sk_dev_bearer"))

      // The SDK's documented call, with this scenario's amounts.
      const txHash = await sdk.sessions.setSpendingPolicy({
        encryptKey: PIN,
        wallet: userWallet,
        spendingPolicyConfig: {
          sessionPublicKey: session.publicKey,
          token: USDC_ADDRESS,
          maxPerCall: 1_000n,
          maxPerWindow: 1_500n,
          windowSeconds: 3600
        }
      }, "sk_dev_bearer")
      await sdk.waitForTransaction(txHash)

      const execute = (amount: bigint) =>
        sdk.executeTransactionWithSession({ params: { encryptKey: PIN, wallet: userWallet, session, calls: [transfer(amount)] } })
      await sdk.waitForTransaction(await execute(1_000n))

      const handle = await sdk.devnet!.handle()
      const sent = (await Effect.runPromise(handle.transactions)).length
      const perWindow = await execute(600n).catch((e: unknown) => e)
      expect(perWindow).toBeInstanceOf(SpendingLimitExceeded)
      expect(perWindow).toMatchObject({ token: USDC_ADDRESS, limit: "perWindow", limitAmount: 1_500n, remaining: 500n })
      const perCall = await execute(1_001n).catch((e: unknown) => e)
      expect(perCall).toBeInstanceOf(SpendingLimitExceeded)
      expect(perCall).toMatchObject({ limit: "perCall", limitAmount: 1_000n })
      expect((await Effect.runPromise(handle.transactions)).length).toBe(sent)

      const policy = await sdk.sessions.getSpendingPolicy({
        walletAddress: userWallet.publicKey,
        sessionPublicKey: session.publicKey,
        token: USDC_ADDRESS
      })
      expect(policy.maxPerWindow > 0n).toBe(true)
      expect(policy).toMatchObject({ maxPerCall: 1_000n, maxPerWindow: 1_500n, windowSeconds: 3600, spentInWindow: 1_000n, remainingInWindow: 500n })
      expect((perWindow as SpendingLimitExceeded).resetsAt).toBe(policy.windowStart + 3600)

      await Effect.runPromise(handle.advanceTime("3600 seconds"))
      await sdk.waitForTransaction(await execute(600n))

      await sdk.waitForTransaction(await sdk.sessions.removeSpendingPolicy({
        encryptKey: PIN,
        wallet: userWallet,
        sessionPublicKey: session.publicKey,
        token: USDC_ADDRESS
      }, "sk_dev_bearer"))
      await sdk.waitForTransaction(await execute(5_000n))
      expect(await Effect.runPromise(handle.balanceOf(USDC_ADDRESS, RECIPIENT))).toBe(6_600n)
      expect(await sdk.sessions.getSpendingPolicy({ walletAddress: userWallet.publicKey, sessionPublicKey: session.publicKey, token: USDC_ADDRESS }))
        .toMatchObject({ maxPerCall: 0n, maxPerWindow: 0n, windowSeconds: 0, spentInWindow: 0n, windowStart: 0 })
    } finally {
      await sdk.close()
    }
  }, 30_000)

  it("docs/examples/spending-policy.ts: the SDK's documented calls run unchanged", async () => {
    const { policy, refused, after } = await spendingPolicyExample()
    expect(policy).toMatchObject({ maxPerCall: 1_000_000n, maxPerWindow: 50_000_000n, windowSeconds: 86_400, spentInWindow: 750_000n, remainingInWindow: 49_250_000n })
    expect(refused).toMatchObject({ _tag: "SpendingLimitExceeded", limit: "perCall", limitAmount: 1_000_000n, requested: 2_000_000n })
    expect(after).toMatchObject({ maxPerWindow: 0n, remainingInWindow: null })
  }, 30_000)

  it("a session registered by a raw owner transaction with approve only: transfer is refused before anything is sent", async () => {
    const sdk = createClient({ devnet: { blockTime: "20 millis" } })
    try {
      const wallet = await sdk.devnet!.createWallet({ encryptKey: PIN, fund: { USDC: 10_000n } })
      const session = sdk.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 3600 })
      const owner = keystore.decryptLegacy(wallet.encryptedPrivateKey, PIN)
      const registerCall = chain.call(wallet.publicKey, "add_or_update_session_key", [session.publicKey, BigInt(session.validUntil), 5n, 1n, STARKNET_SELECTOR_APPROVE])
      const raw = await sdk.runtime.runPromise(chain.submit(wallet.publicKey, [registerCall], { key: owner }) as unknown as Effect.Effect<{ readonly ok: boolean }>)
      expect(raw.ok).toBe(true)
      const handle = await sdk.devnet!.handle()
      await Effect.runPromise(handle.mineBlock)
      const sent = (await Effect.runPromise(handle.transactions)).length
      const refused = await sdk.executeTransactionWithSession({ params: { encryptKey: PIN, wallet, session, calls: [transfer(1n)] } })
        .catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(EntrypointNotAllowed)
      expect(refused).toMatchObject({ entrypoint: "transfer" })
      expect((await Effect.runPromise(handle.transactions)).length).toBe(sent)
      const data = await sdk.sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
      expect(data.allowedEntrypoints).toEqual([STARKNET_SELECTOR_APPROVE])
    } finally {
      await sdk.close()
    }
  }, 30_000)
})

const STARKNET_SELECTOR_APPROVE = "0x219209e083275171774dab1df80982e9df2096516f06319c5c6d71ae0a8480c"
