/**
 * A decrypted key leaves no copy the heap can show once its scope closes: after decrypting (v1 format) and signing, a V8 heap snapshot (node:v8 writeHeapSnapshot) holds neither the key's hex nor its decimal digits.
 * The key is held by the test only as bytes, and the strings searched for are made after the snapshot is written.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as v8 from "node:v8"
import { Crypto } from "starknet-session-keys"
import * as keystore from "../src/internal/crypto/keystore.js"

describe("decrypted keys in the heap", () => {
  it.live("after decrypt and sign in a scope that closed, a heap snapshot holds no hex or decimal copy of the key", () =>
    Effect.gen(function*() {
      const service = yield* Crypto.Crypto
      const key = new Uint8Array(32)
      globalThis.crypto.getRandomValues(key)
      key[0] = 0x01
      const kept = Uint8Array.from(key)
      const publicKey = yield* service.publicKeyOf(Redacted.make(key))
      const v1 = yield* keystore.encryptV1(key, publicKey, "2468")
      key.fill(0)
      for (const blob of [v1, v1]) {
        yield* Effect.scoped(Effect.gen(function*() {
          const decrypted = yield* service.decryptPrivateKey(blob, Redacted.make("2468"), publicKey)
          yield* service.sign("0x1234" as never, decrypted)
        }))
      }
      const file = path.join(os.tmpdir(), `keys-${process.pid}-${Date.now()}.heapsnapshot`)
      v8.writeHeapSnapshot(file)
      const text = fs.readFileSync(file, "utf8")
      fs.rmSync(file)
      // Made only now, so that the snapshot cannot hold them.
      const hex = Buffer.from(kept).toString("hex")
      kept.fill(0)
      const needles = [hex, BigInt("0x" + hex).toString(16), BigInt("0x" + hex).toString(10)]
      expect(needles.map((n) => text.split(n).length - 1)).toEqual([0, 0, 0])
    }).pipe(Effect.provide(Crypto.layerWith({ keyCache: false }))), 60_000)
})
