import { Effect, Layer, type Schema } from "effect"
import { Errors, Paymaster, Schemas, StarknetRpc } from "starknet-session-keys"
import { createClient, InvalidInput } from "starknet-session-keys/promise"
import { afterAll, describe, expect, it } from "vitest"
import { outcome } from "./helpers/outcome.js"

const PIN = "9090"
// What a caller holds: an encrypted key, here in the legacy CryptoJS form (it always begins `U2FsdGVkX1`).
const BLOB = "U2FsdGVkX1+Zq3v0R0xq2mHc0k8Jm3y5bXw9QeQvYd2d7w0lVf4sPq1c8mQwYy0lO9n=="


describe("the Promise client never throws synchronously", () => {
  const sdk = createClient({ devnet: { blockTime: "20 millis" } })
  afterAll(() => sdk.close())
  const wallet = { publicKey: "0x123", encryptedPrivateKey: BLOB }
  const session = { publicKey: "0x456", encryptedPrivateKey: BLOB, validUntil: 4_000_000_000 }
  const sessionConfig = { sessionPublicKey: "0x456", validUntil: 4_000_000_000, maxCalls: 1 }
  const any = sdk as any

  const cases: ReadonlyArray<readonly [string, () => unknown, string]> = [
    ["addSessionKeyToContract()", () => any.sessions.addSessionKeyToContract(), "params"],
    ["addSessionKeyToContract without wallet", () => any.sessions.addSessionKeyToContract({ encryptKey: PIN, sessionConfig }), "wallet"],
    ["addSessionKeyToContract without sessionConfig", () => any.sessions.addSessionKeyToContract({ encryptKey: PIN, wallet }), "sessionConfig"],
    ["addSessionKeyToContract without encryptKey", () => any.sessions.addSessionKeyToContract({ wallet, sessionConfig }), "encryptKey"],
    ["revokeSessionKey()", () => any.sessions.revokeSessionKey(), "params"],
    ["revokeSessionKey without wallet", () => any.sessions.revokeSessionKey({ encryptKey: PIN, sessionPublicKey: "0x456" }), "wallet"],
    ["getSessionData()", () => any.sessions.getSessionData(), "params"],
    ["executeTransactionWithSession()", () => any.executeTransactionWithSession(), "args"],
    ["executeTransactionWithSession({})", () => any.executeTransactionWithSession({}), "params"],
    ["executeTransactionWithSession without session", () => any.executeTransactionWithSession({ params: { encryptKey: PIN, wallet, calls: [] } }), "session"],
    ["executeTransactionWithSession without wallet", () => any.executeTransactionWithSession({ params: { encryptKey: PIN, session, calls: [] } }), "wallet"],
    ["getTransactionStatus()", () => any.getTransactionStatus(), "txHash"],
    ["waitForTransaction()", () => any.waitForTransaction(), "txHash"],
    ["waitForTransaction with a negative interval", () => any.waitForTransaction({ txHash: "0x1", intervalMs: -1 }), "intervalMs"],
    ["waitForTransaction with a NaN budget", () => any.waitForTransaction({ txHash: "0x1", timeoutMs: Number.NaN }), "timeoutMs"],
    ["devnet.createWallet()", () => any.devnet.createWallet(), "params"]
  ]
  for (const [name, call, path] of cases) {
    it(`${name} rejects with InvalidInput at ${path}`, async () => {
      const { thrown, rejected } = await outcome(call)
      expect(thrown).toBeUndefined()
      expect(rejected).toBeInstanceOf(InvalidInput)
      expect((rejected as InvalidInput).path).toBe(path)
    })
  }

  it("the synchronous createSessionKey throws the typed error, never a TypeError; createClient does not throw", async () => {
    expect(() => any.sessions.createSessionKey()).toThrow(InvalidInput)
    expect(() => any.sessions.createSessionKey({ durationSeconds: 60 })).toThrow(InvalidInput)
    const { thrown, rejected } = await outcome(() => createClient(null as any).getTransactionStatus("0x1"))
    expect(thrown).toBeUndefined()
    expect(rejected).toBeInstanceOf(InvalidInput)
    expect((rejected as InvalidInput).path).toBe("options")
  })

  it("a PIN or an encrypted key in the wrong place is not echoed in the error", async () => {
    const pinAsNumber = await outcome(() => any.sessions.addSessionKeyToContract({ encryptKey: 918273, wallet, sessionConfig }))
    expect(pinAsNumber.rejected).toBeInstanceOf(InvalidInput)
    expect(String(pinAsNumber.rejected)).not.toContain("918273")
    // The encrypted key where the session object is expected, and where a public key is expected.
    for (const params of [{ encryptKey: PIN, wallet, session: BLOB, calls: [] }, { encryptKey: PIN, wallet: { ...wallet, publicKey: BLOB }, session, calls: [] }]) {
      const { rejected } = await outcome(() => any.executeTransactionWithSession({ params }))
      expect(rejected).toBeInstanceOf(InvalidInput)
      const error = rejected as InvalidInput
      for (const text of [error.message, String(error), JSON.stringify(error), error.rule, ...error.issues.map((i) => i.rule)]) {
        expect(text).not.toContain("U2FsdGVkX1")
      }
    }
  })
})

describe("Schemas.decode", () => {
  it("does not echo an encrypted key given where a key object or a felt is expected", () => {
    const envelope = "ssk1.eyJ2IjoxLCJrZGYiOiJzY3J5cHQiLCJjdCI6InNlY3JldCJ9"
    for (const [schema, input] of [
      [Schemas.SessionKeyData, BLOB],
      [Schemas.WalletData, envelope],
      [Schemas.WalletData, { publicKey: BLOB, encryptedPrivateKey: BLOB }],
      [Schemas.Felt, envelope]
    ] as const) {
      const error = Effect.runSync(Effect.flip(Schemas.decode(schema as Schema.Schema<unknown, any>, "input")(input)))
      expect(error).toBeInstanceOf(Errors.InvalidInput)
      expect(error.message).toContain("<an encrypted key>")
      expect(JSON.stringify(error) + error.message).not.toMatch(/U2FsdGVkX1|ssk1\./)
    }
  })
})

describe("waitForTransaction({ intervalMs: 0 })", () => {
  it("polls no faster than Transactions.minimumPollInterval", async () => {
    let reads = 0
    const node = Layer.succeed(StarknetRpc.StarknetRpc, {
      chainId: Effect.succeed("0x1" as Schemas.Felt),
      latestBlock: Effect.succeed({ blockNumber: 1, timestamp: 1 }),
      call: () => Effect.succeed([]),
      getNonce: () => Effect.succeed("0x0" as Schemas.Felt),
      getBlockWithTxs: () => Effect.die("not used"),
      simulateCalls: () => Effect.die("not used"),
      getTransactionTrace: () => Effect.die("not used"),
      getTransactionStatus: () => Effect.sync(() => (reads++, { finalityStatus: "RECEIVED" as const })),
      getTransactionReceipt: (txHash) => Effect.fail(new Errors.TransactionNotFound({ txHash }))
    } as StarknetRpc.StarknetRpc["Type"])
    const sdk = createClient({ layer: Layer.merge(node, Layer.succeed(Paymaster.Paymaster, {} as Paymaster.Paymaster["Type"])) })
    try {
      const error = await sdk.waitForTransaction({ txHash: "0xabc", intervalMs: 0, timeoutMs: 1000 }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(Errors.Timeout)
      // One look at once, then at most one per 100 ms: at most 11 in a second (thousands before the floor), and
      // more than one even on a loaded machine.
      expect(reads).toBeLessThanOrEqual(11)
      expect(reads).toBeGreaterThanOrEqual(2)
    } finally {
      await sdk.close()
    }
  })
})
