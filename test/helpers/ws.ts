/** A plain WebSocket client for tests (the `ws` package, as `@effect/platform-node` ships it): JSON in, JSON out. */
import { createRequire } from "node:module"
import { Effect } from "effect"

const require = createRequire(import.meta.url)
/** `ws`'s client class (untyped here: the package ships no types). */
export const WebSocketClass: any = require("ws").WebSocket

export interface Client {
  readonly send: (message: unknown) => void
  readonly sendRaw: (text: string) => void
  /** The first message (since the connection opened, in order, each taken once) that satisfies `test`. */
  readonly next: (label: string, test: (message: any) => boolean, timeoutMillis?: number) => Effect.Effect<any>
  /** Every message received so far. */
  readonly received: () => ReadonlyArray<any>
  readonly closed: Promise<number>
  readonly close: () => void
  readonly terminate: () => void
}

/** Opens a connection; fails (a defect) when the handshake is refused, with the HTTP status in the message. */
export const connect = (url: string, headers: Record<string, string> = {}): Effect.Effect<Client> =>
  Effect.promise(() =>
    new Promise<Client>((resolve, reject) => {
      const socket = new WebSocketClass(url, { headers })
      const inbox: Array<any> = []
      const taken = new Set<any>()
      const waiters = new Set<() => void>()
      const closed = new Promise<number>((done) => socket.on("close", (code: number) => done(code)))
      socket.on("message", (data: Buffer) => {
        inbox.push(JSON.parse(data.toString("utf8")))
        for (const w of [...waiters]) w()
      })
      socket.on("unexpected-response", (_: unknown, res: { statusCode: number }) => reject(new Error(`handshake refused: HTTP ${res.statusCode}`)))
      socket.on("error", (e: Error) => reject(e))
      socket.on("open", () =>
        resolve({
          send: (message) => socket.send(JSON.stringify(message)),
          sendRaw: (text) => socket.send(text),
          received: () => inbox,
          closed,
          close: () => socket.close(),
          terminate: () => socket.terminate(),
          next: (label, test, timeoutMillis = 10_000) =>
            Effect.async<any>((resume) => {
              const look = () => {
                const found = inbox.find((m) => !taken.has(m) && test(m))
                if (found === undefined) return false
                taken.add(found)
                waiters.delete(look as () => void)
                clearTimeout(timer)
                resume(Effect.succeed(found))
                return true
              }
              const timer = setTimeout(() => {
                waiters.delete(look as () => void)
                resume(Effect.dieMessage(`timed out after ${timeoutMillis} ms waiting for ${label}; received ${JSON.stringify(inbox).slice(0, 2000)}`))
              }, timeoutMillis)
              if (!look()) waiters.add(look as () => void)
              return Effect.sync(() => {
                clearTimeout(timer)
                waiters.delete(look as () => void)
              })
            })
        }))
    })
  )
