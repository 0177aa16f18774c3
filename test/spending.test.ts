import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Ref, TestClock } from "effect"
import { Constants, Crypto, Devnet, Errors, Ledger, OutsideExecution, Sessions, StarknetRpc } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import * as keystore from "../src/internal/crypto/keystore.js"
import * as chain from "./helpers/chain.js"
import { atRealisticTime, PIN, RECIPIENT, registeredSession, TestLayer, transfer, USDC, withBlocks } from "./helpers/lifecycle.js"

const U64_MAX = 2n ** 64n - 1n

/** The test layer with a Crypto whose `sign` calls are counted, to show that nothing was signed. */
const CountingLayer = () => {
  const signed = Ref.unsafeMake(0)
  const crypto = Layer.effect(
    Crypto.Crypto,
    Effect.map(Crypto.Crypto, (c) => ({ ...c, sign: (hash, key) => Effect.zipRight(Ref.update(signed, (n) => n + 1), c.sign(hash, key)) }))
  ).pipe(Layer.provide(Crypto.layerDeterministic("spending-tests")))
  return {
    signed,
    layer: Layer.mergeAll(Devnet.layer({ blockTime: "2 seconds" }), crypto, Sessions.layer)
  }
}

const policy = { maxPerCall: 1_000n, maxPerWindow: 1_500n, windowSeconds: 3600 }

describe("spending policies through the Effect API", () => {
  const counting = CountingLayer()
  it.effect("set, spend, refused locally (per window, per call), read, the window passes, removed", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 10, durationSeconds: 4 * 3600 })
      const set = yield* withBlocks(Sessions.setSpendingPolicyAndWait({
        encryptKey: PIN,
        wallet,
        spendingPolicyConfig: { sessionPublicKey: session.publicKey, token: USDC, ...policy }
      }))
      expect(set.executionStatus).toBe("SUCCEEDED")
      const fresh = yield* Sessions.getSpendingPolicy({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey, token: USDC })
      expect(fresh).toMatchObject({ maxPerCall: 1_000n, maxPerWindow: 1_500n, windowSeconds: 3600, spentInWindow: 0n, remainingInWindow: 1_500n })
      const windowStart = fresh.windowStart
      expect(fresh.windowResetsAt).toBe(windowStart + 3600)

      const execute = (amount: bigint) => Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(amount)] })
      yield* withBlocks(execute(1_000n))
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(1_000n)

      const sentBefore = (yield* devnet.transactions).length
      const signedBefore = yield* Ref.get(counting.signed)
      const perWindow = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(600n)] }))
      expect(perWindow).toBeInstanceOf(Errors.SpendingLimitExceeded)
      expect(perWindow).toMatchObject({
        code: "SPENDING_LIMIT_EXCEEDED",
        token: USDC,
        limit: "perWindow",
        limitAmount: 1_500n,
        requested: 600n,
        remaining: 500n,
        resetsAt: windowStart + 3600
      })
      const perCall = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1_001n)] }))
      expect(perCall).toMatchObject({ _tag: "SpendingLimitExceeded", limit: "perCall", limitAmount: 1_000n, requested: 1_001n, remaining: 500n })
      expect((yield* devnet.transactions).length).toBe(sentBefore)
      expect(yield* Ref.get(counting.signed)).toBe(signedBefore)

      const spent = yield* Sessions.getSpendingPolicy({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey, token: USDC })
      expect(spent).toMatchObject({ spentInWindow: 1_000n, remainingInWindow: 500n, windowStart, windowResetsAt: windowStart + 3600 })

      yield* TestClock.adjust("3600 seconds")
      const over = yield* Sessions.getSpendingPolicy({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey, token: USDC })
      expect(over).toMatchObject({ spentInWindow: 1_000n, remainingInWindow: 1_500n, windowResetsAt: null })
      yield* withBlocks(execute(600n))
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(1_600n)

      yield* withBlocks(Sessions.removeSpendingPolicyAndWait({ encryptKey: PIN, wallet, sessionPublicKey: session.publicKey, token: USDC }))
      const removed = yield* Sessions.getSpendingPolicy({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey, token: USDC })
      expect(removed).toEqual({
        maxPerCall: 0n,
        maxPerWindow: 0n,
        windowSeconds: 0,
        spentInWindow: 0n,
        windowStart: 0,
        remainingInWindow: null,
        windowResetsAt: null
      })
      yield* withBlocks(execute(5_000n))
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(6_600n)
    }).pipe(Effect.provide(counting.layer)))

  it.effect("amounts add up per token within a multicall; other tokens and untracked entrypoints do not count", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 10 })
      yield* withBlocks(Sessions.setSpendingPolicyAndWait({
        encryptKey: PIN,
        wallet,
        spendingPolicyConfig: { sessionPublicKey: session.publicKey, token: USDC, ...policy }
      }))
      const approve = (amount: bigint) => ({ ...transfer(amount), entrypoint: "approve" })
      const increase = (amount: bigint) => ({ ...transfer(amount), entrypoint: "increase_allowance" })
      const error = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(700n), approve(500n), increase(400n)] }))
      expect(error).toMatchObject({ _tag: "SpendingLimitExceeded", limit: "perWindow", requested: 1_600n, remaining: 1_500n })
      const strk = Constants.STARKNET_CONTRACTS.STRK.contractAddress
      yield* devnet.mint(strk, wallet.publicKey, 10_000n)
      // 1,500 of USDC in one execute, plus STRK (no policy) and a balance read (not tracked).
      yield* withBlocks(Sessions.executeAndWait({
        encryptKey: PIN,
        wallet,
        session,
        calls: [transfer(1_000n), approve(500n), { ...transfer(9_000n), contractAddress: strk }, { contractAddress: USDC, entrypoint: "balance_of", calldata: [wallet.publicKey] }]
      }))
      const after = yield* Sessions.getSpendingPolicy({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey, token: USDC })
      expect(after).toMatchObject({ spentInWindow: 1_500n, remainingInWindow: 0n })
      expect(yield* devnet.balanceOf(strk, RECIPIENT)).toBe(9_000n)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("setSpendingPolicy checks the policy before signing", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession()
      const sent = (yield* devnet.transactions).length
      const set = (config: Partial<Sessions.SpendingPolicyConfig>) =>
        Effect.flip(Sessions.setSpendingPolicy({
          encryptKey: PIN,
          wallet,
          spendingPolicyConfig: { sessionPublicKey: session.publicKey, token: USDC, ...policy, ...config }
        }))
      expect(yield* set({ windowSeconds: 0 })).toMatchObject({ _tag: "InvalidInput", path: "spendingPolicyConfig.windowSeconds", code: "INVALID_SPENDING_POLICY" })
      expect(yield* set({ windowSeconds: 1.5 })).toMatchObject({ _tag: "InvalidInput", path: "spendingPolicyConfig.windowSeconds" })
      expect(yield* set({ windowSeconds: U64_MAX + 1n })).toMatchObject({ _tag: "InvalidInput", path: "spendingPolicyConfig.windowSeconds" })
      // Fits u64 alone, but not added to the block time the window starts at.
      const overflow = yield* set({ windowSeconds: U64_MAX - 1_000n })
      expect(overflow).toMatchObject({ _tag: "InvalidInput", path: "spendingPolicyConfig.windowSeconds" })
      expect(overflow.message).toMatch(/overflow u64/)
      expect(yield* set({ maxPerWindow: 0n, maxPerCall: 0n })).toMatchObject({ _tag: "InvalidInput", path: "spendingPolicyConfig.maxPerWindow" })
      expect(yield* set({ maxPerCall: 2_000n })).toMatchObject({ _tag: "InvalidInput", path: "spendingPolicyConfig.maxPerCall", code: "INVALID_SPENDING_POLICY" })
      expect(yield* set({ maxPerWindow: 2n ** 256n })).toMatchObject({ _tag: "InvalidInput", path: "spendingPolicyConfig.maxPerWindow" })
      expect(yield* set({ maxPerCall: -1n })).toMatchObject({ _tag: "InvalidInput", path: "spendingPolicyConfig.maxPerCall" })
      expect(yield* set({ token: "not-an-address" })).toMatchObject({ _tag: "InvalidInput", path: "spendingPolicyConfig.token" })
      expect((yield* devnet.transactions).length).toBe(sent)
      // u256 amounts above u128 go out as [low, high] and read back whole.
      const big = 2n ** 200n + 7n
      yield* withBlocks(Sessions.setSpendingPolicyAndWait({
        encryptKey: PIN,
        wallet,
        spendingPolicyConfig: { sessionPublicKey: session.publicKey, token: USDC, maxPerCall: big, maxPerWindow: big * 2n, windowSeconds: 60n }
      }))
      const read = yield* Sessions.getSpendingPolicy({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey, token: USDC })
      expect(read).toMatchObject({ maxPerCall: big, maxPerWindow: big * 2n, windowSeconds: 60 })
    }).pipe(Effect.provide(TestLayer())))
})

describe("spending policies set by the owner's own transactions", () => {
  const setRaw = (address: string, owner: chain.Signer, key: string, maxPerCall: bigint, maxPerWindow: bigint, windowSeconds: bigint) =>
    chain.ownerCall(address, owner, "set_spending_policy", [
      key,
      USDC,
      maxPerCall & (2n ** 128n - 1n),
      maxPerCall >> 128n,
      maxPerWindow & (2n ** 128n - 1n),
      maxPerWindow >> 128n,
      windowSeconds
    ])

  it.effect("a window whose end overflows u64 refuses every tracked call: preflight says so before signing", () =>
    Effect.gen(function*() {
      yield* chain.start
      const { address, owner, data } = yield* chain.wallet
      const key = chain.sessionKey(0x5ca1en)
      const now = BigInt(yield* (yield* Devnet.Devnet).blockTimestamp)
      yield* chain.register(address, owner, key.publicKey, now + 3600n, 10n)
      yield* setRaw(address, owner, key.publicKey, 1_000n, 1_500n, U64_MAX - 10n)
      const read = yield* Sessions.getSpendingPolicy({ walletAddress: address, sessionPublicKey: key.publicKey, token: USDC })
      expect(read).toMatchObject({ remainingInWindow: 0n, windowResetsAt: null })
      const verdict = yield* Effect.flip(Sessions.preflight({
        walletAddress: address,
        sessionPublicKey: key.publicKey,
        calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: [RECIPIENT, "1", "0"] }]
      }))
      expect(verdict).toMatchObject({ _tag: "SpendingLimitExceeded", limit: "perWindow", remaining: 0n, resetsAt: null })
      // The chain agrees: the window's end overflows u64 and the account panics.
      const onChain = yield* chain.submit(address, [chain.transfer(RECIPIENT, 1n)], { key: key.key, session: { validUntil: now + 3600n } })
      expect(onChain.ok).toBe(false)
      expect(onChain.reason).toMatch(/u64_add Overflow/)
      // The per-call check comes first on chain.
      const perCall = yield* Effect.flip(Sessions.preflight({
        walletAddress: address,
        sessionPublicKey: key.publicKey,
        calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: [RECIPIENT, "1001", "0"] }]
      }))
      expect(perCall).toMatchObject({ _tag: "SpendingLimitExceeded", limit: "perCall" })
      // A balance read is not tracked and goes through the preflight.
      yield* Sessions.preflight({
        walletAddress: address,
        sessionPublicKey: key.publicKey,
        calls: [{ contractAddress: USDC, entrypoint: "balance_of", calldata: [data.publicKey] }]
      })
    }).pipe(Effect.provide(Layer.merge(chain.layer(), Sessions.layer))))

  it.effect("malformed amounts on a token with a policy are refused as the account refuses them", () =>
    Effect.gen(function*() {
      yield* chain.start
      const { address, owner } = yield* chain.wallet
      const key = chain.sessionKey(0x5ca1fn)
      const now = BigInt(yield* (yield* Devnet.Devnet).blockTimestamp)
      yield* chain.register(address, owner, key.publicKey, now + 3600n, 10n)
      yield* setRaw(address, owner, key.publicKey, 1_000n, 1_500n, 3600n)
      const check = (calldata: ReadonlyArray<string>) =>
        Effect.flip(Sessions.preflight({ walletAddress: address, sessionPublicKey: key.publicKey, calls: [{ contractAddress: USDC, entrypoint: "approve", calldata }] }))
      expect(yield* check([RECIPIENT, "5"])).toMatchObject({ _tag: "InvalidInput", path: "calls.0.calldata" })
      expect(yield* check([RECIPIENT, (2n ** 128n).toString(), "0"])).toMatchObject({ _tag: "InvalidInput", path: "calls.0.calldata" })
      // The chain agrees.
      for (const calldata of [[RECIPIENT, 5n], [RECIPIENT, 2n ** 128n, 0n]]) {
        const result = yield* chain.submit(address, [chain.call(USDC, "approve", calldata)], { key: key.key, session: { validUntil: now + 3600n } })
        expect(result.ok).toBe(false)
        expect(result.reason).toMatch(/^Spending: /)
      }
      // A u256 amount with a high part is compared whole.
      expect(yield* check([RECIPIENT, "0", "1"])).toMatchObject({ _tag: "SpendingLimitExceeded", limit: "perCall", requested: 2n ** 128n })
    }).pipe(Effect.provide(Layer.merge(chain.layer(), Sessions.layer))))

  it.effect("amounts of payloads sent from here that may still execute count against the window", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 10 })
      yield* withBlocks(Sessions.setSpendingPolicyAndWait({
        encryptKey: PIN,
        wallet,
        spendingPolicyConfig: { sessionPublicKey: session.publicKey, token: USDC, ...policy }
      }))
      // Sent, not included yet: the chain still shows nothing spent.
      yield* Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1_000n)] }, { idempotencyKey: "pay-1" })
      const sent = (yield* devnet.transactions).length
      const refused = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(600n)] }))
      expect(refused).toMatchObject({ _tag: "SpendingLimitExceeded", limit: "perWindow", remaining: 500n, requested: 600n })
      expect((yield* devnet.transactions).length).toBe(sent)
      // The same payment asked again is not counted against itself.
      const again = yield* withBlocks(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1_000n)] }, { idempotencyKey: "pay-1" }))
      expect(again).toMatch(/^0x/)
      // Included: counted once, by the chain.
      yield* TestClock.adjust("4 seconds")
      const read = yield* Sessions.getSpendingPolicy({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey, token: USDC })
      expect(read).toMatchObject({ spentInWindow: 1_000n, remainingInWindow: 500n })
      yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(500n)] }))
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(1_500n)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("a refusal by the chain (another process spent the window first) is the same typed error", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 10 })
      yield* withBlocks(Sessions.setSpendingPolicyAndWait({
        encryptKey: PIN,
        wallet,
        spendingPolicyConfig: { sessionPublicKey: session.publicKey, token: USDC, ...policy }
      }))
      // Another process (its own ledger) sends 1,000 that is not included yet; ours then sends 1,000 too, and the
      // other's lands between the paymaster's estimate of ours and its send.
      yield* Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1_000n)] }).pipe(Effect.provide(Sessions.layer))
      yield* devnet.setFaults({ staleEstimateNext: 1 })
      const error = yield* Effect.flip(withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(1_000n)] })))
      expect(error).toMatchObject({ _tag: "SpendingLimitExceeded", limit: "perWindow", remaining: 500n, requested: 1_000n })
    }).pipe(Effect.provide(TestLayer())))
})

describe("policy changes and the payloads they could revive", () => {
  it.effect("a policy change while a payload refused for its limit is live: LivePayloads; waited out, a replay moves nothing", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 10 })
      const config = { sessionPublicKey: session.publicKey, token: USDC, ...policy }
      yield* withBlocks(Sessions.setSpendingPolicyAndWait({ encryptKey: PIN, wallet, spendingPolicyConfig: config }))
      // Ours is sent first but held back a block; another process, which cannot see it (a held transaction is not
      // in the block being built), spends 1,000 before it: ours is refused by the chain for the window's limit.
      yield* devnet.setFaults({ holdBlocks: 2 })
      const over = yield* Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1_000n)] }, { idempotencyKey: "over" })
      yield* devnet.setFaults({ holdBlocks: 0 })
      yield* Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1_000n)] }).pipe(Effect.provide(Sessions.layer))
      const refused = yield* Effect.flip(withBlocks(Sessions.wait(over)))
      expect(refused._tag).toBe("SpendingLimitExceeded")
      // A wider policy (it also starts a fresh window) would let that payload run: refused while it is live.
      const wider = { ...config, maxPerWindow: 10_000n }
      const error = yield* Effect.flip(Sessions.setSpendingPolicy({ encryptKey: PIN, wallet, spendingPolicyConfig: wider }))
      expect(error).toBeInstanceOf(Errors.LivePayloads)
      yield* withBlocks(Sessions.setSpendingPolicyAndWait({ encryptKey: PIN, wallet, spendingPolicyConfig: wider }, { waitForLivePayloads: true }))
      const payment = yield* Effect.flatMap(Ledger.Ledger, (ledger) => ledger.payment(wallet.publicKey as never, "over"))
      const { outsideExecution } = OutsideExecution.fromTypedData(payment!.typedData)
      yield* devnet.submitOutside(wallet.publicKey, OutsideExecution.executeFromOutsideCalldata(outsideExecution, payment!.signature))
      yield* devnet.mineBlock
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(1_000n)
    }).pipe(Effect.provide(TestLayer())))

  it.effect("a payload refused for another reason does not hold back a policy change: it is not what a policy decides", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, session } = yield* registeredSession({ maxCalls: 1 })
      // Two processes race for the last call: the loser's payload (sent first, held back a block, so the other
      // process cannot see it) is refused by the chain, and stays live.
      const devnet = yield* Devnet.Devnet
      yield* devnet.setFaults({ holdBlocks: 2 })
      const loser = yield* Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(2n)] })
      yield* devnet.setFaults({ holdBlocks: 0 })
      yield* Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }).pipe(Effect.provide(Sessions.layer))
      const lost = yield* Effect.flip(withBlocks(Sessions.wait(loser)))
      expect(lost._tag).toBe("MaxCallsExceeded")
      const config = { sessionPublicKey: session.publicKey, token: USDC, ...policy }
      yield* withBlocks(Sessions.setSpendingPolicyAndWait({ encryptKey: PIN, wallet, spendingPolicyConfig: config }))
      yield* withBlocks(Sessions.setSpendingPolicyAndWait({ encryptKey: PIN, wallet, spendingPolicyConfig: { ...config, maxPerWindow: 9_000n } }))
      yield* withBlocks(Sessions.removeSpendingPolicyAndWait({ encryptKey: PIN, wallet, sessionPublicKey: session.publicKey, token: USDC }))
    }).pipe(Effect.provide(TestLayer())))
})

describe("the allow-list read from the chain", () => {
  const counting = CountingLayer()
  it.effect("a session registered by a raw owner transaction with approve only: transfer is refused before anything is signed", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const devnet = yield* Devnet.Devnet
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 10_000n } })
      const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 3600 })
      const owner = keystore.decryptLegacy(wallet.encryptedPrivateKey, PIN)
      yield* chain.register(wallet.publicKey, { key: owner }, session.publicKey, BigInt(session.validUntil), 5n, ["approve"])
      yield* TestClock.adjust("2 seconds")
      const sent = (yield* devnet.transactions).length
      const signed = yield* Ref.get(counting.signed)
      const error = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n)] }))
      expect(error).toBeInstanceOf(Errors.EntrypointNotAllowed)
      expect(error).toMatchObject({ entrypoint: "transfer" })
      expect((yield* devnet.transactions).length).toBe(sent)
      expect(yield* Ref.get(counting.signed)).toBe(signed)
      const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
      expect(data).toMatchObject({ allowedEntrypointsLen: 1, allowedEntrypoints: [Constants.SELECTORS.approve] })
      // approve goes through.
      yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [{ ...transfer(1n), entrypoint: "approve" }] }))
    }).pipe(Effect.provide(counting.layer)))
})

describe("an allow-list changed by another process", () => {
  it.effect("registered here with approve, re-registered elsewhere with transfer: the chain's list decides", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, session } = yield* registeredSession({ maxCalls: 5, allowedEntrypoints: ["approve"] })
      const owner = keystore.decryptLegacy(wallet.encryptedPrivateKey, PIN)
      yield* chain.register(wallet.publicKey, { key: owner }, session.publicKey, BigInt(session.validUntil), 5n, ["transfer"])
      yield* TestClock.adjust("2 seconds")
      const approve = { ...transfer(1n), entrypoint: "approve" }
      const refused = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [approve] }))
      expect(refused).toMatchObject({ _tag: "EntrypointNotAllowed", entrypoint: "approve" })
      yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(7n)] }))
      expect(yield* devnet.balanceOf(USDC, RECIPIENT)).toBe(7n)
    }).pipe(Effect.provide(TestLayer())))
})

describe("the preflight's reads over JSON-RPC", () => {
  it.live("session data, block, allow-list and two tokens' policies: two HTTP requests, each a batch", () =>
    Effect.gen(function*() {
      const server = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const devnet = yield* Devnet.Devnet
      const strk = Constants.STARKNET_CONTRACTS.STRK.contractAddress
      const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 10_000n, STRK: 10_000n } })
      const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 600 })
      yield* Sessions.registerAndWait({
        encryptKey: PIN,
        wallet,
        sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 5, allowedEntrypoints: ["transfer", "approve"] }
      })
      for (const token of [USDC, strk]) {
        yield* Sessions.setSpendingPolicyAndWait({ encryptKey: PIN, wallet, spendingPolicyConfig: { sessionPublicKey: session.publicKey, token, ...policy } })
      }
      // Another process: its ledger does not know the allow-list.
      const elsewhere = Layer.merge(StarknetRpc.layerHttp({ url: server.url }), Sessions.layer)
      const calls = [transfer(1_000n), { ...transfer(2_000n), contractAddress: strk }]
      const before = server.httpRequests()
      const refused = yield* Effect.flip(Sessions.preflight({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey, calls }))
        .pipe(Effect.provide(elsewhere))
      expect(refused).toMatchObject({ _tag: "SpendingLimitExceeded", token: strk, limit: "perCall" })
      expect(server.httpRequests() - before).toBe(2)
      const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey }).pipe(Effect.provide(elsewhere))
      expect(data.allowedEntrypoints).toEqual([Constants.SELECTORS.transfer, Constants.SELECTORS.approve])
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(Devnet.layer({ blockTime: "50 millis" }), Crypto.layerDeterministic("spending-http"), Sessions.layer))
    ), 30_000)
})
