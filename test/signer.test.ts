import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Ref } from "effect"
import { Crypto, Devnet, Errors, OutsideExecution, Schemas, Sessions, Signer } from "starknet-session-keys"
import * as SignerServer from "starknet-session-keys/signer"
import { Schema } from "effect"
import { decryptedKeysHeld } from "../src/internal/crypto/keycache.js"
import { PIN, transfer, USDC } from "./helpers/lifecycle.js"
import { startWorker } from "./helpers/processes.js"

const MERCHANT = "0x3e7c4a11"
const API_KEY = "sk_signer_" + "7f3a".repeat(8)

describe("the remote signer", () => {
  it.scopedLive("the guide flow with the remote signer: the application never decrypts the session key; the signer's policies and authentication hold", () =>
    Effect.gen(function*() {
      const worker = yield* Effect.acquireRelease(
        Effect.sync(() => startWorker("test/helpers/signer-worker.ts", {
          SIGNER_API_KEY: API_KEY,
          SIGNER_POLICIES: JSON.stringify({ all: { allowedRecipients: [MERCHANT] } })
        })),
        (w) => Effect.promise(() => w.kill9())
      )
      const url = (yield* Effect.promise(() => worker.line(/^url /, 60_000))).slice(4)

      // The application: the embedded devnet, a Crypto whose decryptions are recorded, the remote signer.
      const decrypted = Ref.unsafeMake<ReadonlyArray<string>>([])
      const crypto = Layer.effect(
        Crypto.Crypto,
        Effect.map(Crypto.Crypto, (c) => ({
          ...c,
          decryptPrivateKey: (encrypted: string, pin: Redacted.Redacted<string>, expected: Schemas.Felt, options?: { readonly cache?: boolean }) =>
            Effect.zipRight(Ref.update(decrypted, (all) => [...all, expected]), c.decryptPrivateKey(encrypted, pin, expected, options))
        }))
      ).pipe(Layer.provide(Crypto.layer))
      const app = Layer.mergeAll(
        Devnet.layer({ blockTime: "50 millis" }),
        crypto,
        Sessions.layer,
        Signer.layerRemote({ url, apiKey: Redacted.make(API_KEY) })
      )
      yield* Effect.gen(function*() {
        const devnet = yield* Devnet.Devnet
        const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
        const session = yield* Sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 3600 })
        yield* Sessions.registerAndWait({
          encryptKey: PIN,
          wallet,
          session,
          sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 5, allowedEntrypoints: [] }
        })
        // The signer is given the encrypted key and its PIN.
        const held = yield* Effect.promise(() =>
          fetch(`${url}/v1/sessions`, {
            method: "POST",
            headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
            body: JSON.stringify({ wallet: wallet.publicKey, session, pin: PIN })
          })
        )
        expect(held.status).toBe(200)

        const hash = yield* Sessions.executeAndWait({ encryptKey: PIN, wallet, session, calls: [transfer(25n, MERCHANT)] })
        expect(hash.executionStatus).toBe("SUCCEEDED")
        expect(yield* devnet.balanceOf(USDC, MERCHANT)).toBe(25n)
        // The signer's own policy: no local policy here, the signer refuses.
        const refused = yield* Effect.flip(Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n, "0x5e4d")] }))
        expect(refused).toBeInstanceOf(Errors.PolicyViolation)
        expect(refused).toMatchObject({ rule: "allowed-recipients", callIndex: 0 })

        // The application process never decrypted the session key, and holds no decrypted key.
        expect((yield* Ref.get(decrypted)).map((k) => BigInt(k))).not.toContain(BigInt(session.publicKey))
        expect(decryptedKeysHeld()).toBe(0)

        // A client with a wrong key is refused, typed.
        const wrongKey = yield* Effect.flip(
          Sessions.execute({ encryptKey: PIN, wallet, session, calls: [transfer(1n, MERCHANT)] }).pipe(
            Effect.provide(Signer.layerRemote({ url, apiKey: Redacted.make("sk_wrong") }))
          )
        )
        expect(wrongKey).toMatchObject({ _tag: "SignerError", reason: "unauthorized", status: 401 })

        // A hash it did not derive from the calls, or calls other than the typed data's: refused.
        const calls = Schema.decodeUnknownSync(Schema.Array(Schemas.Call))([transfer(1n, MERCHANT)])
        const typedData = OutsideExecution.toTypedData("0x534e5f5345504f4c4941", {
          caller: OutsideExecution.anyCaller,
          nonce: "0x99" as Schemas.Felt,
          executeAfter: 1n,
          executeBefore: 2n ** 40n,
          calls: OutsideExecution.toOutsideCalls(calls)
        })
        const good = OutsideExecution.typedDataHash(typedData, wallet.publicKey)
        const remote = yield* Effect.provide(Signer.Signer, Signer.layerRemote({ url, apiKey: Redacted.make(API_KEY) }))
        const request = { wallet: wallet.publicKey as Schemas.Address, sessionPublicKey: session.publicKey as Schemas.Felt, typedData, calls }
        expect(yield* Effect.flip(remote.signSession({ ...request, hash: "0x1234" as Schemas.Felt }))).toMatchObject({ reason: "hash-mismatch", status: 400 })
        const other = Schema.decodeUnknownSync(Schema.Array(Schemas.Call))([transfer(2n, MERCHANT)])
        expect(yield* Effect.flip(remote.signSession({ ...request, calls: other, hash: good }))).toMatchObject({ reason: "calls-mismatch" })
        const signature = yield* remote.signSession({ ...request, hash: good })
        const cryptoService = yield* Crypto.Crypto
        expect(yield* cryptoService.verify(good, signature, session.publicKey as Schemas.Felt)).toBe(true)

        // Unauthenticated: refused before anything is read.
        const anonymous = yield* Effect.promise(() => fetch(`${url}/v1/sign-session`, { method: "POST", body: "{}" }))
        expect(anonymous.status).toBe(401)
        expect(yield* Effect.promise(() => anonymous.json())).toMatchObject({ _tag: "SignerError", reason: "unauthorized" })
      }).pipe(Effect.provide(app))

      // Its log names decisions, never the PIN, the API key or a key blob.
      const log = worker.lines.join("\n") + worker.stderr()
      expect(log).toContain("signed")
      expect(log).toContain("refused")
      expect(log).not.toContain(API_KEY)
      expect(log).not.toContain("ssk1.")
    }), 120_000)

  it.scoped("refuses to listen off loopback without an API key", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(SignerServer.serve({ host: "0.0.0.0" }))
      expect(error).toMatchObject({ _tag: "InvalidInput", path: "host" })
    }).pipe(Effect.provide(Crypto.layerDeterministic("signer-tests"))))
})
