/**
 * The Promise client as a newcomer meets it: its options checked by name, the published Chipi SDK's two shapes of
 * `executeTransactionWithSession`, its public types, and what a closed client answers.
 */
import {
  type CallInput,
  ClientClosed,
  createClient,
  InvalidInput,
  type Receipt,
  type Session,
  STARKNET_CONTRACTS,
  type TransactionStatus,
  type Wallet
} from "starknet-session-keys/promise"
import { describe, expect, expectTypeOf, it } from "vitest"
import { outcome } from "./helpers/outcome.js"


describe("createClient options", () => {
  const cases: ReadonlyArray<readonly [string, unknown, string, RegExp]> = [
    ["a misspelt rpcUrl beside paymasterUrl", { rpcURL: "http://127.0.0.1:1", paymasterUrl: "http://127.0.0.1:1" }, "rpcURL", /did you mean rpcUrl/],
    ["an unknown key", { bogus: 1 }, "bogus", /unknown option/],
    ["a misspelt apiSecretKey", { apiPublicKey: "pk_dev_x", apiSecretkey: "sk_dev_x", rpcUrl: "http://127.0.0.1:1" }, "apiSecretkey", /did you mean apiSecretKey/],
    ["a misspelt devnet", { devNet: {} }, "devNet", /did you mean devnet/],
    ["a devnet beside a node", { devnet: {}, rpcUrl: "http://127.0.0.1:1", paymasterUrl: "http://127.0.0.1:1" }, "devnet", /not an option of/],
    ["options that are not an object", "http://127.0.0.1:1", "options", /must be an object/],
    ["a layer that is not one", { layer: "http://127.0.0.1:1" }, "layer", /must be a Layer/]
  ]
  for (const [name, options, path, rule] of cases) {
    it(`${name}: no devnet, and every call rejects with InvalidInput at ${path} (createClient itself does not throw)`, async () => {
      const created = await outcome(() => createClient(options as any))
      expect(created.thrown).toBeUndefined()
      const sdk = createClient(options as any)
      expect(sdk.devnet).toBeUndefined()
      for (const call of [() => sdk.getTransactionStatus("0x1"), () => sdk.sessions.getSessionData({ walletAddress: "0x1", sessionPublicKey: "0x2" })]) {
        const { thrown, rejected } = await outcome(call)
        expect(thrown).toBeUndefined()
        expect(rejected).toBeInstanceOf(InvalidInput)
        expect((rejected as InvalidInput).path).toBe(path)
        expect((rejected as InvalidInput).message).toMatch(rule)
      }
      // The synchronous call throws it, as it throws its own typed errors.
      expect(() => sdk.sessions.createSessionKey({ encryptKey: "1234" })).toThrow(InvalidInput)
      await sdk.close()
    })
  }

  it("a devnet only when asked for: no options, or { devnet }", async () => {
    for (const sdk of [createClient(), createClient({}), createClient({ devnet: { blockTime: "20 millis" } })]) {
      expect(sdk.devnet).toBeDefined()
      await sdk.close()
    }
  })
})

describe("the published Chipi SDK's shapes", () => {
  it("executeTransactionWithSession({ params, bearerToken }) and sessions.executeTransactionWithSession(params, bearerToken) both execute", async () => {
    const sdk = createClient({ devnet: { blockTime: "20 millis" } })
    try {
      const pin = "1357"
      const wallet: Wallet = await sdk.devnet!.createWallet({ encryptKey: pin, fund: { USDC: 1_000_000n } })
      const session: Session = sdk.sessions.createSessionKey({ encryptKey: pin, durationSeconds: 600 })
      const bearerToken = "bearer-token"
      const registered = await sdk.sessions.addSessionKeyToContract({
        encryptKey: pin,
        wallet,
        sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 2 }
      }, bearerToken)
      await sdk.waitForTransaction({ txHash: registered, timeoutMs: 20_000 })
      const calls: ReadonlyArray<CallInput> = [
        { contractAddress: STARKNET_CONTRACTS.USDC.contractAddress, entrypoint: "transfer", calldata: ["0x7ec1", "0x10", "0x0"] }
      ]
      const params = { encryptKey: pin, wallet, session, calls }
      const first = await sdk.executeTransactionWithSession({ params, bearerToken })
      const second = await sdk.sessions.executeTransactionWithSession(params, bearerToken)
      const receipts: ReadonlyArray<Receipt> = await Promise.all([first, second].map((txHash) => sdk.waitForTransaction({ txHash, timeoutMs: 20_000 })))
      expect(receipts.map((r) => r.executionStatus)).toEqual(["SUCCEEDED", "SUCCEEDED"])
      const status: TransactionStatus = await sdk.getTransactionStatus({ txHash: second })
      expect(status.executionStatus).toBe("SUCCEEDED")
      expectTypeOf(sdk.sessions.executeTransactionWithSession).returns.toEqualTypeOf<Promise<string>>()
    } finally {
      await sdk.close()
    }
  }, 30_000)
})

describe("a closed client", () => {
  it("rejects every call with ClientClosed, an Error with a _tag", async () => {
    const sdk = createClient({ devnet: { blockTime: "20 millis" } })
    await sdk.devnet!.handle()
    await sdk.close()
    for (const call of [() => sdk.getTransactionStatus("0x1"), () => sdk.devnet!.handle(), () => sdk.waitForTransaction("0x1")]) {
      const { thrown, rejected } = await outcome(call)
      expect(thrown).toBeUndefined()
      expect(rejected).toBeInstanceOf(ClientClosed)
      expect(rejected).toBeInstanceOf(Error)
      expect((rejected as ClientClosed)._tag).toBe("ClientClosed")
      expect((rejected as ClientClosed).message).toMatch(/closed/)
    }
  })
})
