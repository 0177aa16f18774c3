import { Effect, type ManagedRuntime } from "effect"
import { Crypto, Devnet } from "starknet-session-keys"
import { describe, expect, it } from "vitest"
import { createClient, Expired, InvalidInput, InvalidPin, MaxCallsExceeded, STARKNET_CONTRACTS } from "starknet-session-keys/promise"

const PIN = "9090"
const transfer = (amount: bigint) => ({
  contractAddress: STARKNET_CONTRACTS.USDC.contractAddress,
  entrypoint: "transfer",
  calldata: ["0x1234", "0x" + amount.toString(16), "0x0"]
})

describe("the Promise client", () => {
  it("follows the guide's shapes and rejects with the typed error classes themselves", async () => {
    const sdk = createClient({ devnet: { blockTime: "20 millis" } })
    try {
      const wallet = await sdk.devnet!.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
      const session = sdk.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 3600 })
      expect(session.publicKey).toMatch(/^0x/)
      expect(session.validUntil).toBeGreaterThan(Date.now() / 1000 + 3590)
      const registerTx = await sdk.sessions.addSessionKeyToContract({
        encryptKey: PIN,
        wallet,
        sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 1, allowedEntrypoints: [] }
      }, "bearer-token-ignored-by-the-devnet")
      const registered = await sdk.waitForTransaction(registerTx)
      expect(registered.executionStatus).toBe("SUCCEEDED")
      expect(await sdk.getTransactionStatus({ txHash: registerTx })).toMatchObject({ executionStatus: "SUCCEEDED" })
      expect(await sdk.getTransactionStatus(registerTx)).toMatchObject({ executionStatus: "SUCCEEDED" })

      await expect(sdk.executeTransactionWithSession({ params: { encryptKey: "wrong", wallet, session, calls: [transfer(1n)] } }))
        .rejects.toBeInstanceOf(InvalidPin)
      const tx = await sdk.executeTransactionWithSession({ params: { encryptKey: PIN, wallet, session, calls: [transfer(5n)] } })
      await sdk.waitForTransaction({ txHash: tx })
      const data = await sdk.sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
      expect(data).toMatchObject({ isActive: false, maxCalls: 1, callsUsed: 1, remainingCalls: 0 })
      const refused = await sdk.executeTransactionWithSession({ params: { encryptKey: PIN, wallet, session, calls: [transfer(5n)] } })
        .catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(MaxCallsExceeded)
      expect(refused).not.toBeInstanceOf(Expired)

      expect(() => sdk.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: -5 })).toThrow(InvalidInput)
      await expect(sdk.getTransactionStatus({ txHash: "not-a-hash" })).rejects.toBeInstanceOf(InvalidInput)

      const revokeTx = await sdk.sessions.revokeSessionKey({ encryptKey: PIN, wallet, sessionPublicKey: session.publicKey })
      await sdk.waitForTransaction(revokeTx)
      const after = await sdk.sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
      expect(after).toMatchObject({ isActive: false, validUntil: 0 })
    } finally {
      await sdk.close()
    }
  }, 30_000)

  it("checks live options before any request, naming the setting; the guide's Chipi constructor reads STARKNET_RPC_URL", async () => {
    const saved = process.env["STARKNET_RPC_URL"]
    /** What the client's first call rejects with (createClient itself never throws). */
    const firstCall = async (options: Parameters<typeof createClient>[0]) => {
      const sdk = createClient(options)
      try {
        return await sdk.getTransactionStatus("0x1").then(() => undefined, (e: unknown) => e)
      } finally {
        await sdk.close()
      }
    }
    try {
      delete process.env["STARKNET_RPC_URL"]
      const missing = await firstCall({ apiPublicKey: "pk_dev_x", apiSecretKey: "sk_dev_x", baseUrl: undefined })
      expect(missing).toBeInstanceOf(InvalidInput)
      expect((missing as InvalidInput).path).toBe("rpcUrl (or STARKNET_RPC_URL)")
      const malformed = await firstCall({ rpcUrl: "not a url", paymasterUrl: "http://127.0.0.1:1" })
      expect(malformed).toBeInstanceOf(InvalidInput)
      expect((malformed as InvalidInput).path).toBe("rpcUrl (or STARKNET_RPC_URL)")
      process.env["STARKNET_RPC_URL"] = "http://127.0.0.1:1"
      const sdk = createClient({ apiPublicKey: "pk_dev_x", apiSecretKey: "sk_dev_x", baseUrl: process.env["CHIPI_BASE_URL"] })
      expect(sdk.devnet).toBeUndefined()
      void sdk.close()
    } finally {
      if (saved === undefined) delete process.env["STARKNET_RPC_URL"]
      else process.env["STARKNET_RPC_URL"] = saved
    }
  })

  it("keeps one Crypto service: a deterministic one gives a new key each time; a key it made bounds its registration", async () => {
    const sdk = createClient({ layer: Devnet.layer({ blockTime: "20 millis" }), crypto: Crypto.layerDeterministic("promise-tests") })
    try {
      const first = sdk.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 60 })
      const second = sdk.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 60 })
      expect(first.publicKey).not.toBe(second.publicKey)
      // The layer given holds a devnet too: its handle makes the wallet.
      const runtime = sdk.runtime as unknown as ManagedRuntime.ManagedRuntime<Devnet.Devnet, never>
      const wallet = await runtime.runPromise(Effect.flatMap(Devnet.Devnet, (handle) => handle.createWallet({ encryptKey: PIN })))
      await expect(sdk.sessions.addSessionKeyToContract({
        encryptKey: PIN,
        wallet,
        sessionConfig: { sessionPublicKey: first.publicKey, validUntil: first.validUntil + 86_400, maxCalls: 1 }
      })).rejects.toMatchObject({ _tag: "InvalidInput", path: "sessionConfig.validUntil" })
    } finally {
      await sdk.close()
    }
  })
})
