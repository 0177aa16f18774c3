/**
 * A client that holds a connection by trickling its request is cut off at the documented bounds (docs/devnet.md,
 * Limits): the whole request within `requestTimeout`, the headers within 10 s or `requestTimeout` if shorter, each
 * to within Node's one-second check. Served here with a 2-second `requestTimeout`, so both bounds are 2 s.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as net from "node:net"
import { Devnet } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"

/** Writes `head` then one byte of `trickle` every 200 ms; answers the seconds until the server closes the socket. */
const heldFor = (port: number, head: string, trickle: string) =>
  Effect.async<number, Error>((resume) => {
    const started = performance.now()
    const socket = net.connect(port, "127.0.0.1", () => socket.write(head))
    let i = 0
    const timer = setInterval(() => {
      if (!socket.destroyed) socket.write(trickle[i++ % trickle.length]!)
    }, 200)
    const bound = setTimeout(() => {
      socket.destroy()
      resume(Effect.fail(new Error("the server still held the trickling connection after 20 s")))
    }, 20_000)
    socket.on("data", () => undefined)
    socket.on("error", () => undefined)
    socket.on("close", () => {
      clearInterval(timer)
      clearTimeout(bound)
      resume(Effect.succeed((performance.now() - started) / 1000))
    })
  })

describe("held-back connections", () => {
  it.live("a body trickled byte by byte, and headers trickled the same way, are cut off at the bound (2 s here), not a minute later", () =>
    Effect.gen(function*() {
      const { port } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0, requestTimeout: "2 seconds" })
      const [body, headers] = yield* Effect.all([
        heldFor(port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", "[1,"),
        heldFor(port, "POST / HTTP/1.1\r\n", "X-Slow: abcdefgh\r\n")
      ], { concurrency: 2 })
      expect(body).toBeGreaterThanOrEqual(1.9)
      expect(body).toBeLessThan(4.5)
      expect(headers).toBeGreaterThanOrEqual(1.9)
      expect(headers).toBeLessThan(4.5)
    }).pipe(Effect.scoped, Effect.provide(Devnet.layer({ blockTime: "1 hour" }))), 30_000)
})
