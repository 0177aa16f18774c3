import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Ref, TestClock } from "effect"
import { Crypto, Devnet, Errors, Ledger, Policies, Sessions } from "starknet-session-keys"
import { atRealisticTime, PIN, RECIPIENT, transfer, USDC, walletWithSessions, withBlocks } from "./helpers/lifecycle.js"

const MERCHANT = "0x3e7c4a11"
const OTHER = "0x5eed"
const STRK = "0x04718f5a0fc34cc1af16a1cdee98ffb20c31f5cd61d6ab07201858f4287c938d"

/** The test layer with a Crypto whose `sign` calls are counted, to show that nothing was signed. */
const counting = (policies?: Layer.Layer<Policies.WalletPolicies, Errors.InvalidInput>) => {
  const signed = Ref.unsafeMake(0)
  const crypto = Layer.effect(
    Crypto.Crypto,
    Effect.map(Crypto.Crypto, (c) => ({ ...c, sign: (hash, key) => Effect.zipRight(Ref.update(signed, (n) => n + 1), c.sign(hash, key)) }))
  ).pipe(Layer.provide(Crypto.layerDeterministic("policy-tests")))
  const base = Layer.mergeAll(Devnet.layer({ blockTime: "2 seconds" }), crypto, Sessions.layer)
  return { signed, layer: policies === undefined ? base : Layer.merge(base, Layer.orDie(policies)) }
}

const call = (entrypoint: string, calldata: ReadonlyArray<string>, contractAddress: string = USDC) => ({ contractAddress, entrypoint, calldata })
const ctx = (calls: ReadonlyArray<ReturnType<typeof call>>) => ({
  wallet: "0x1" as never,
  sessionPublicKey: "0x2" as never,
  calls: calls.map((c) => ({ ...c, contractAddress: c.contractAddress as never, calldata: c.calldata as never }))
})
const rules = (input: Policies.PolicyInput) => Effect.runSync(Policies.decodePolicy(input))

describe("Policies.evaluate (pure)", () => {
  it("reads the recipient and amount where the ERC-20 ABI puts them, for every spelling", () => {
    const policy = rules({ allowedRecipients: [MERCHANT], maxAmountPerCall: [{ token: USDC, amount: 50 }] })
    expect(Policies.evaluate(policy, ctx([call("transfer", [MERCHANT, "50", "0"])]))).toBeUndefined()
    // transferFrom(sender, recipient, amount): the recipient is the second felt, not the sender.
    expect(Policies.evaluate(policy, ctx([call("transferFrom", [OTHER, MERCHANT, "50", "0"])]))).toBeUndefined()
    expect(Policies.evaluate(policy, ctx([call("transfer_from", [MERCHANT, OTHER, "1", "0"])]))).toMatchObject({
      rule: "allowed-recipients",
      callIndex: 0,
      recipient: OTHER
    })
    for (const entrypoint of ["approve", "increase_allowance", "increaseAllowance", "transfer"]) {
      expect(Policies.evaluate(policy, ctx([call("transfer", [MERCHANT, "1", "0"]), call(entrypoint, [OTHER, "1", "0"])]))).toMatchObject({
        _tag: "PolicyViolation",
        code: "POLICY_VIOLATION",
        rule: "allowed-recipients",
        callIndex: 1,
        recipient: OTHER,
        entrypoint
      })
    }
    // The amount is a u256: [low, high]; a high felt makes it above any u128 cap.
    expect(Policies.evaluate(policy, ctx([call("transfer", [MERCHANT, "0", "1"])]))).toMatchObject({
      rule: "max-amount-per-call",
      amount: 2n ** 128n,
      limit: 50n
    })
    expect(Policies.evaluate(policy, ctx([call("transfer", [MERCHANT, "51", "0"])]))).toMatchObject({ rule: "max-amount-per-call", amount: 51n })
    // A cap names its token: another token's transfer is not capped by it.
    expect(Policies.evaluate(policy, ctx([call("transfer", [MERCHANT, "5000", "0"], STRK)]))).toBeUndefined()
    expect(Policies.evaluate(policy, ctx([call("transfer", [MERCHANT, "1"])]))).toMatchObject({ rule: "calldata", callIndex: 0 })
    expect(Policies.evaluate(policy, ctx([call("transfer", [MERCHANT, (2n ** 128n).toString(), "0"])]))).toMatchObject({ rule: "calldata" })
  })

  it("allowed calls are contract and entrypoint pairs; deny-lists, max calls", () => {
    const policy = rules({ allowedCalls: [{ contractAddress: USDC, entrypoint: "transfer" }], deniedRecipients: [OTHER], maxCalls: 2 })
    expect(Policies.evaluate(policy, ctx([call("transfer", [MERCHANT, "1", "0"])]))).toBeUndefined()
    // The same selector on another contract is not allowed.
    expect(Policies.evaluate(policy, ctx([call("transfer", [MERCHANT, "1", "0"], STRK)]))).toMatchObject({ rule: "allowed-calls", callIndex: 0 })
    expect(Policies.evaluate(policy, ctx([call("transfer", [MERCHANT, "1", "0"]), call("approve", [MERCHANT, "1", "0"])]))).toMatchObject({
      rule: "allowed-calls",
      callIndex: 1
    })
    expect(Policies.evaluate(policy, ctx([call("transfer", [OTHER, "1", "0"])]))).toMatchObject({ rule: "denied-recipients", callIndex: 0 })
    const three = [0, 1, 2].map(() => call("transfer", [MERCHANT, "1", "0"]))
    expect(Policies.evaluate(policy, ctx(three))).toMatchObject({ rule: "max-calls" })
    expect(Policies.evaluate(policy, ctx(three))?.callIndex).toBeUndefined()
  })

  it("a policy is validated at the boundary with a typed error naming the field", () => {
    const bad = Effect.runSync(Effect.flip(Policies.decodePolicy({ budgets: [{ token: USDC, amount: -1, windowSeconds: 60 }] })))
    expect(bad).toBeInstanceOf(Errors.InvalidInput)
    expect(bad.path).toContain("budgets")
    const window = Effect.runSync(Effect.flip(Policies.decodePolicy({ budgets: [{ token: USDC, amount: 1, windowSeconds: 0 }] })))
    expect(window.path).toContain("windowSeconds")
  })
})

describe("policies on executes (devnet)", () => {
  const c = counting()
  it.effect("a payment off the allow-list, above a cap, or to a contract not allowed is refused before signing; nothing sent, no call used", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, sessions: [session] } = yield* walletWithSessions(1, 3)
      yield* Policies.attach({
        sessionPublicKey: session!.publicKey,
        policy: {
          allowedCalls: [{ contractAddress: USDC, entrypoint: "transfer" }],
          allowedRecipients: [MERCHANT],
          maxAmountPerCall: [{ token: USDC, amount: 50n }]
        }
      })
      const signedBefore = yield* Ref.get(c.signed)
      const sentBefore = (yield* devnet.transactions).length
      const refused = (calls: ReadonlyArray<ReturnType<typeof call>>) =>
        Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session: session!, calls }))
      expect(yield* refused([transfer(10n, MERCHANT), transfer(10n, RECIPIENT)])).toMatchObject({
        _tag: "PolicyViolation",
        rule: "allowed-recipients",
        callIndex: 1
      })
      expect(yield* refused([transfer(51n, MERCHANT)])).toMatchObject({ rule: "max-amount-per-call", callIndex: 0, limit: 50n, amount: 51n })
      expect(yield* refused([call("transfer", [MERCHANT, "1", "0"], STRK)])).toMatchObject({ rule: "allowed-calls", callIndex: 0 })
      expect(yield* Ref.get(c.signed)).toBe(signedBefore)
      expect((yield* devnet.transactions).length).toBe(sentBefore)
      const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session!.publicKey })
      expect(data.callsUsed).toBe(0)
      // Within the policy: paid.
      yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session: session!, calls: [transfer(50n, MERCHANT)] }))
      expect(yield* devnet.balanceOf(USDC, MERCHANT)).toBe(50n)
      // Detached: the session's own limits only.
      yield* Policies.detach({ sessionPublicKey: session!.publicKey })
      yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session: session!, calls: [transfer(70n, RECIPIENT)] }))
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(70n)
    }).pipe(Effect.provide(c.layer)), 60_000)
})

describe("a policy given at the key's creation (devnet)", () => {
  const c = counting()
  it.effect("is stored with the key and applies to its payments", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
      const bad = yield* Effect.flip(Sessions.createSessionKey({ encryptKey: PIN, policy: { maxCalls: 0 } }))
      expect(bad).toMatchObject({ _tag: "InvalidInput", path: "policy.maxCalls" })
      const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 3600, policy: { maxCalls: 1 } })
      yield* withBlocks(Sessions.registerAndWait({
        encryptKey: PIN,
        wallet,
        session,
        sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 5, allowedEntrypoints: [] }
      }))
      const refused = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n), transfer(1n)] }))
      expect(refused).toMatchObject({ _tag: "PolicyViolation", rule: "max-calls" })
      yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }))
    }).pipe(Effect.provide(c.layer)), 60_000)
})

describe("budgets per wallet across sessions (devnet)", () => {
  const c = counting(Policies.layer({ all: { budgets: [{ token: USDC, amount: 200n, windowSeconds: 3600 }] } }))
  it.effect("a wallet's budget counts every session; the window rolls", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, sessions: [a, b] } = yield* walletWithSessions(2)
      const pay = (session: typeof a, amount: bigint) =>
        withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session: session!, calls: [transfer(amount, MERCHANT)] }))
      yield* pay(a, 150n)
      const signedBefore = yield* Ref.get(c.signed)
      const over = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session: b!, calls: [transfer(60n, MERCHANT)] }))
      expect(over).toMatchObject({ _tag: "PolicyViolation", rule: "budget", callIndex: 0, spent: 150n, limit: 200n, amount: 60n, windowSeconds: 3600 })
      expect(yield* Ref.get(c.signed)).toBe(signedBefore)
      expect(yield* Policies.spent({ wallet: wallet.publicKey, token: USDC, windowSeconds: 3600 })).toBe(150n)
      yield* pay(b, 50n)
      expect(yield* devnet.balanceOf(USDC, MERCHANT)).toBe(200n)
      expect(yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session: a!, calls: [transfer(1n, MERCHANT)] }))).toMatchObject({
        rule: "budget",
        spent: 200n
      })
      // An hour later, the window has rolled past both payments.
      yield* TestClock.adjust("3601 seconds")
      yield* pay(a, 200n)
      expect(yield* devnet.balanceOf(USDC, MERCHANT)).toBe(400n)
    }).pipe(Effect.provide(c.layer)), 60_000)

  it.effect("a payment that did not move money gives its amount back (not-executed, or released)", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      const wallet = "0xa11ce" as never
      const payment = (key: string, nonce: string) => ({
        wallet,
        idempotencyKey: key,
        purpose: "execute" as const,
        sessionPublicKey: "0x5" as never,
        nonce: nonce as never,
        executeAfter: 0,
        executeBefore: 10_000,
        typedData: {} as never,
        signature: [],
        calls: [],
        firstBlock: 0,
        recordedAt: 1_000_000,
        status: "pending" as const
      })
      const charge = (amount: bigint) => [{ token: USDC as never, amount, callIndex: 0, limits: [{ amount: 100n, windowSeconds: 3600 }] }]
      yield* ledger.recordPayment(payment("k1", "0x1"), { charges: charge(60n) })
      expect(yield* Effect.flip(ledger.recordPayment(payment("k2", "0x2"), { charges: charge(50n) }))).toMatchObject({ rule: "budget", spent: 60n })
      // Unknown outcome (pending) holds it; marked not-executed, it is given back.
      yield* ledger.updatePayment(wallet, "k1", "0x1" as never, { status: "not-executed" })
      yield* ledger.recordPayment(payment("k2", "0x2"), { charges: charge(50n) })
      expect(yield* ledger.budgetSpent(wallet, USDC as never, 3600, 1_000_001)).toBe(50n)
      yield* ledger.releaseBudget(wallet, "k2")
      expect(yield* ledger.budgetSpent(wallet, USDC as never, 3600, 1_000_001)).toBe(0n)
      // The same key recorded again is the same record: its charge is not taken twice.
      yield* ledger.recordPayment(payment("k3", "0x3"), { charges: charge(100n) })
      const again = yield* ledger.recordPayment(payment("k3", "0x4"), { charges: charge(100n) })
      expect(again.nonce).toBe("0x3")
      expect(yield* ledger.budgetSpent(wallet, USDC as never, 3600, 1_000_001)).toBe(100n)
    }).pipe(Effect.provide(Ledger.layerMemory)))
})

describe("custom predicates (devnet)", () => {
  const seen: Array<string> = []
  const c = counting(Policies.layer({
    all: {
      predicates: [{
        name: "business-hours",
        check: (call, index) => Effect.sync(() => (seen.push(`${index}:${call.entrypoint}`), call.calldata.length !== 3 || BigInt(call.calldata[1]!) !== 13n))
      }]
    }
  }))
  it.effect("a predicate's false refuses the call it names, before signing", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, sessions: [session] } = yield* walletWithSessions(1)
      const signedBefore = yield* Ref.get(c.signed)
      const refused = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session: session!, calls: [transfer(1n), transfer(13n)] }))
      expect(refused).toMatchObject({ _tag: "PolicyViolation", rule: "custom:business-hours", callIndex: 1 })
      expect(seen).toEqual(["0:transfer", "1:transfer"])
      expect(yield* Ref.get(c.signed)).toBe(signedBefore)
    }).pipe(Effect.provide(c.layer)), 60_000)
})
