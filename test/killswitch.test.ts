import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Ref, Schema, TestClock } from "effect"
import { Crypto, Devnet, Errors, Ledger, Sessions } from "starknet-session-keys"
import { atRealisticTime, PIN, transfer, walletWithSessions, withBlocks } from "./helpers/lifecycle.js"

const counting = () => {
  const signed = Ref.unsafeMake(0)
  const crypto = Layer.effect(
    Crypto.Crypto,
    Effect.map(Crypto.Crypto, (c) => ({ ...c, sign: (hash, key) => Effect.zipRight(Ref.update(signed, (n) => n + 1), c.sign(hash, key)) }))
  ).pipe(Layer.provide(Crypto.layerDeterministic("kill-switch-tests")))
  return { signed, layer: Layer.mergeAll(Devnet.layer({ blockTime: "2 seconds" }), crypto, Sessions.layer) }
}


const isActive = (wallet: string, sessionPublicKey: string) =>
  Effect.map(Sessions.getSessionData({ walletAddress: wallet, sessionPublicKey }), (d) => d.isActive)

describe("Sessions.revokeAll", () => {
  const c = counting()
  it.effect("refuses the wallet's payments at once, revokes every active session in one multicall, leaves none active", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { devnet, wallet, sessions } = yield* walletWithSessions(3)
      const [a, b, gone] = sessions
      yield* withBlocks(Sessions.revokeAndWait({ encryptKey: PIN, wallet, sessionPublicKey: gone!.publicKey }))
      yield* withBlocks(Sessions.executeAndWait({ encryptKey: PIN, wallet, session: a!, calls: [transfer(5n)] }))
      const sentBefore = (yield* devnet.transactions).length

      const ledger = yield* Ledger.Ledger
      const fiber = yield* Effect.fork(Sessions.revokeAll({ encryptKey: PIN, wallet }))
      for (let i = 0; i < 100 && (yield* ledger.haltedSince(wallet.publicKey as never)) === undefined; i++) yield* Effect.yieldNow()
      // Stopped before the revocation is even sent.
      expect(yield* Fiber.poll(fiber)).toMatchObject({ _tag: "None" })
      const halted = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session: b!, calls: [transfer(1n)] }))
      expect(halted).toBeInstanceOf(Errors.WalletHalted)
      expect(halted).toMatchObject({ code: "WALLET_HALTED", wallet: wallet.publicKey })
      // Nothing recorded for it (so nothing signed was kept, nothing sent).
      expect(yield* ledger.openPayments({ wallet: wallet.publicKey as never, sessionPublicKey: b!.publicKey as never })).toEqual([])

      const result = yield* withBlocks(Fiber.join(fiber))
      // Only the sessions the chain said were active; one transaction for both.
      expect([...result.revoked].sort()).toEqual([a!.publicKey, b!.publicKey].sort())
      expect(result.transactionHashes.length).toBe(1)
      yield* withBlocks(Sessions.wait(result.transactionHashes[0]!))
      expect((yield* devnet.transactions).length).toBe(sentBefore + 1)
      for (const s of sessions) expect(yield* isActive(wallet.publicKey, s!.publicKey)).toBe(false)

      // Resumed: payments are judged by the chain again, which has revoked the sessions.
      yield* Sessions.resumeWallet({ walletAddress: wallet.publicKey })
      const revoked = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session: b!, calls: [transfer(1n)] }))
      expect(revoked._tag).toBe("NotRegistered")
      // Nothing left to revoke: no transaction.
      expect(yield* Sessions.revokeAll({ encryptKey: PIN, wallet })).toEqual({ revoked: [], transactionHashes: [] })
    }).pipe(Effect.provide(c.layer)), 90_000)

  it.effect("a presigned revoke-all is sent later without the PIN, once", () =>
    Effect.gen(function*() {
      yield* atRealisticTime
      const { wallet, sessions } = yield* walletWithSessions(2)
      const presigned = yield* Sessions.presignRevokeAll({ encryptKey: PIN, wallet }, { validFor: "1 day" })
      expect([...presigned.sessionPublicKeys].sort()).toEqual(sessions.map((s) => s.publicKey).sort())
      // Serialisable, and nothing in it is the PIN or a key.
      const json = JSON.stringify(Schema.encodeSync(Sessions.PresignedRevokeAll)(presigned))
      expect(json).not.toContain(PIN)
      expect(json).not.toContain(wallet.encryptedPrivateKey)
      for (const s of sessions) expect(yield* isActive(wallet.publicKey, s.publicKey)).toBe(true)

      yield* TestClock.adjust("1 hour")
      const sent = yield* Sessions.sendRevokeAll(JSON.parse(json))
      expect(sent._tag).toBe("Sent")
      if (sent._tag === "Sent") yield* withBlocks(Sessions.wait(sent.txHash))
      for (const s of sessions) expect(yield* isActive(wallet.publicKey, s.publicKey)).toBe(false)
      const signedBefore = yield* Ref.get(c.signed)
      expect(yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session: sessions[0]!, calls: [transfer(1n)] }))).toBeInstanceOf(
        Errors.WalletHalted
      )
      expect(yield* Ref.get(c.signed)).toBe(signedBefore)
      expect((yield* Sessions.sendRevokeAll(JSON.parse(json)))._tag).toBe("Duplicate")
      expect(yield* Effect.flip(Sessions.sendRevokeAll({ wallet: wallet.publicKey }))).toBeInstanceOf(Errors.InvalidInput)
    }).pipe(Effect.provide(c.layer)), 90_000)
})
