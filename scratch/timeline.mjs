import { Effect, Layer } from "effect"
import * as http from "node:http"
import { Devnet } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import { createClient } from "starknet-session-keys/promise"
import * as keystore from "../dist/internal/crypto/keystore.js"
import { call, signOutside, USDC } from "../test/helpers/chain.ts"
const PIN = "2580"
globalThis.MARK_START_EXECUTE = function MARK_START_EXECUTE() { const t = performance.now(); while (performance.now() - t < 2) {} }
let T0 = 0
const log = []
const proxy = (target) => new Promise((resolve) => {
  const server = http.createServer((req, res) => {
    const chunks = []
    const tin = performance.now() - T0
    req.on("data", (c) => chunks.push(c))
    req.on("end", () => {
      const body = Buffer.concat(chunks)
      let label = req.url
      try { const j = JSON.parse(body); label = (Array.isArray(j) ? j : [j]).map((x) => x.method).join("+") } catch {}
      const tbody = performance.now() - T0
      const f = http.request(target + req.url, { method: req.method, headers: req.headers }, (a) => {
        res.writeHead(a.statusCode, a.headers)
        a.pipe(res)
        a.on("end", () => log.push(`${tin.toFixed(1)} (body ${tbody.toFixed(1)}) -> ${(performance.now() - T0).toFixed(1)} ${label}`))
      })
      f.end(body)
    })
  })
  server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() }))
})
const prog = Effect.gen(function*() {
  const served = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
  const p = yield* Effect.promise(() => proxy(served.url))
  const devnet = yield* Devnet.Devnet
  const client = createClient({ rpcUrl: p.url, paymasterUrl: p.url })
  const session = client.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 86400 })
  const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
  const owner = keystore.decryptLegacy(wallet.encryptedPrivateKey, PIN)
  const { calldata } = yield* signOutside(wallet.publicKey, [call(wallet.publicKey, "add_or_update_session_key", [session.publicKey, BigInt(session.validUntil), 1000n, 0n])], { key: owner })
  yield* devnet.submitOutside(wallet.publicKey, calldata)
  yield* devnet.mineBlock
  const w = { ...wallet, walletType: "CHIPI" }
  yield* Effect.promise(async () => {
    const once = (i) => client.executeTransactionWithSession({ params: { encryptKey: PIN, wallet: w, session, calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: ["0x" + (0xb000 + i).toString(16), "0x1", "0x0"] }] } })
    for (let i = 0; i < 10; i++) await once(i)
    for (let i = 10; i < 16; i++) {
      log.length = 0
      globalThis.MARK_START_EXECUTE()
      T0 = performance.now()
      await once(i)
      console.log(`execute ${i}: ${(performance.now() - T0).toFixed(1)} ms`)
      for (const l of log) console.log("   ", l)
    }
    await client.close()
  })
  p.close()
}).pipe(Effect.scoped, Effect.provide(Layer.fresh(Devnet.layer({ blockTime: "1 hour" }))))
await Effect.runPromise(prog)
