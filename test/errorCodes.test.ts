import { Duration, Schema } from "effect"
import { Errors } from "starknet-session-keys"
import { createClient, STARKNET_CONTRACTS } from "starknet-session-keys/promise"
import { describe, expect, it } from "vitest"

/**
 * The codes the published Chipi SDK rejects with: `SESSION_ERRORS` and `ERRORS` in `@chipi-stack/shared` 14.4
 * (dist/constants), which `@chipi-stack/backend` 14.13 throws as `ChipiSessionError(message, code)`.
 */
const SDK_SESSION_ERRORS = [
  "INVALID_WALLET_TYPE_FOR_SESSION",
  "SESSION_EXPIRED",
  "SESSION_NOT_REGISTERED",
  "SESSION_REVOKED",
  "SESSION_MAX_CALLS_EXCEEDED",
  "SESSION_ENTRYPOINT_NOT_ALLOWED",
  "SESSION_DECRYPTION_FAILED",
  "SESSION_CREATION_FAILED",
  "SESSION_INVALID_RESPONSE",
  "INVALID_SPENDING_POLICY"
]
const SDK_ERRORS = ["INVALID_API_KEY", "WALLET_NOT_FOUND", "INSUFFICIENT_BALANCE", "TRANSACTION_FAILED", "INVALID_SIGNATURE", "SKU_NOT_FOUND", "SKU_UNAVAILABLE"]

const key = "0x" + "ab".repeat(32)
const examples = [
  [new Errors.Expired({ sessionPublicKey: key, validUntil: 1, now: 2 }), "SESSION_EXPIRED"],
  [new Errors.MaxCallsExceeded({ sessionPublicKey: key, maxCalls: 1, callsUsed: 1 }), "SESSION_MAX_CALLS_EXCEEDED"],
  [new Errors.EntrypointNotAllowed({ selector: "0x1" }), "SESSION_ENTRYPOINT_NOT_ALLOWED"],
  [new Errors.ForbiddenCall({ rule: "blocklist", selector: "0x1", contractAddress: "0x2" }), "SESSION_ENTRYPOINT_NOT_ALLOWED"],
  [new Errors.NotRegistered({ sessionPublicKey: key, walletAddress: "0x2" }), "SESSION_NOT_REGISTERED"],
  [new Errors.NotRegistered({ sessionPublicKey: key, walletAddress: "0x2", code: "SESSION_REVOKED" }), "SESSION_REVOKED"],
  [new Errors.InvalidPin({}), "SESSION_DECRYPTION_FAILED"],
  [new Errors.InvalidInput({ path: "calls", rule: "r", issues: [] }), "VALIDATION_ERROR"],
  [new Errors.InvalidInput({ path: "spendingPolicyConfig.windowSeconds", rule: "r", issues: [], code: "INVALID_SPENDING_POLICY" }), "INVALID_SPENDING_POLICY"],
  [new Errors.Reverted({ txHash: "0x1", revertReason: "x" }), "TRANSACTION_FAILED"],
  [new Errors.Timeout({ txHash: "0x1", waited: Duration.seconds(1) }), "TRANSACTION_TIMEOUT"],
  [new Errors.TransactionNotFound({ txHash: "0x1" }), "TRANSACTION_NOT_FOUND"],
  [new Errors.TypedDataMismatch({ field: "f", expected: "a", actual: "b" }), "TYPED_DATA_MISMATCH"],
  [new Errors.PolicyViolation({ rule: "budget", wallet: "0x1", sessionPublicKey: key, detail: "d" }), "POLICY_VIOLATION"],
  [new Errors.WalletHalted({ wallet: "0x1", since: 1 }), "WALLET_HALTED"],
  [new Errors.SignerError({ reason: "unauthorized", detail: "d" }), "SIGNER_ERROR"]
] as const

describe("error codes", () => {
  it("each typed error carries the SDK's code for the same failure (and keeps its _tag)", () => {
    for (const [error, code] of examples) {
      expect(error.code).toBe(code)
      expect(error._tag).toBe(error.constructor.name)
    }
    // The session codes used are the SDK's own strings, not look-alikes.
    for (const [error] of examples) {
      if (error.code.startsWith("SESSION_") || error.code.startsWith("INVALID_SPENDING")) expect(SDK_SESSION_ERRORS).toContain(error.code)
    }
    expect(SDK_ERRORS).toContain(new Errors.Reverted({ txHash: "0x1", revertReason: "x" }).code)
  })

  it("the code survives Schema encode and decode; an encoding without one decodes to the default", () => {
    const expired = new Errors.Expired({ sessionPublicKey: key, validUntil: 1, now: 2 })
    const encoded = Schema.encodeSync(Errors.Expired)(expired)
    expect(encoded).toMatchObject({ _tag: "Expired", code: "SESSION_EXPIRED" })
    expect(JSON.parse(JSON.stringify(encoded)).code).toBe("SESSION_EXPIRED")
    expect(Schema.decodeUnknownSync(Errors.Expired)(JSON.parse(JSON.stringify(encoded))).code).toBe("SESSION_EXPIRED")
    const { code: _, ...older } = encoded
    expect(Schema.decodeUnknownSync(Errors.Expired)(older).code).toBe("SESSION_EXPIRED")
    const revoked = Schema.encodeSync(Errors.NotRegistered)(new Errors.NotRegistered({ sessionPublicKey: key, walletAddress: "0x2", code: "SESSION_REVOKED" }))
    expect(Schema.decodeUnknownSync(Errors.NotRegistered)(revoked).code).toBe("SESSION_REVOKED")
    // A code that is not this failure's is refused.
    expect(() => Schema.decodeUnknownSync(Errors.Expired)({ ...encoded, code: "SESSION_REVOKED" })).toThrow()
  })

  it("the protocol errors keep their numeric code; Chipi's string code is apiCode", () => {
    expect(new Errors.PaymasterError({ code: 156, message: "m" }).code).toBe(156)
    expect(new Errors.PaymasterError({ code: 401, message: "m", apiCode: "INVALID_API_KEY" }).apiCode).toBe("INVALID_API_KEY")
    expect(new Errors.RpcError({ method: "starknet_call", code: 40, message: "m", transient: false }).code).toBe(40)
  })

  it("code written for the SDK (catch (e) { switch (e.code) … }) ports unchanged to the Promise client", async () => {
    const sdk = createClient({ devnet: { blockTime: "20 millis" } })
    const transfer = { contractAddress: STARKNET_CONTRACTS.USDC.contractAddress, entrypoint: "transfer", calldata: ["0x1234", "0x1", "0x0"] }
    const codeOf = (e: unknown) => (e as { code?: unknown }).code
    try {
      const wallet = await sdk.devnet!.createWallet({ encryptKey: "1234", fund: { USDC: 10n } })
      const session = sdk.sessions.createSessionKey({ encryptKey: "1234", durationSeconds: 3600 })
      const unregistered = await sdk.executeTransactionWithSession({ params: { encryptKey: "1234", wallet, session, calls: [transfer] } }).catch(codeOf)
      expect(unregistered).toBe("SESSION_NOT_REGISTERED")
      await sdk.waitForTransaction(
        await sdk.sessions.addSessionKeyToContract({
          encryptKey: "1234",
          wallet,
          sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 1, allowedEntrypoints: ["transfer"] }
        }, "bearer")
      )
      const wrongPin = await sdk.executeTransactionWithSession({ params: { encryptKey: "wrong", wallet, session, calls: [transfer] } }).catch(codeOf)
      expect(wrongPin).toBe("SESSION_DECRYPTION_FAILED")
      const approve = { ...transfer, entrypoint: "approve" }
      expect(await sdk.executeTransactionWithSession({ params: { encryptKey: "1234", wallet, session, calls: [approve] } }).catch(codeOf))
        .toBe("SESSION_ENTRYPOINT_NOT_ALLOWED")
      await sdk.waitForTransaction(await sdk.executeTransactionWithSession({ params: { encryptKey: "1234", wallet, session, calls: [transfer] } }))
      expect(await sdk.executeTransactionWithSession({ params: { encryptKey: "1234", wallet, session, calls: [transfer] } }).catch(codeOf))
        .toBe("SESSION_MAX_CALLS_EXCEEDED")
    } finally {
      await sdk.close()
    }
  })
})
