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

/**
 * A TCP proxy in front of a server (for WebSocket connections): `kill` cuts every connection through it, `refuse`
 * makes it cut new ones at once (a node that is unreachable).
 */
export const tcpProxy = (targetUrl: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const net = await import("node:net")
      const target = new URL(targetUrl)
      const sockets = new Set<import("node:net").Socket>()
      let refusing = false
      let frozen = false
      let accepted = 0
      const server = net.createServer((client) => {
        if (refusing) return client.destroy()
        accepted++
        const upstream = net.connect(Number(target.port), target.hostname)
        sockets.add(client)
        sockets.add(upstream)
        // Forwarded chunk by chunk, so that `freeze` can stop it without closing anything.
        client.on("data", (chunk) => {
          if (!frozen) upstream.write(chunk)
        })
        upstream.on("data", (chunk) => {
          if (!frozen) client.write(chunk)
        })
        const end = () => {
          client.destroy()
          upstream.destroy()
          sockets.delete(client)
          sockets.delete(upstream)
        }
        client.on("close", end).on("error", end)
        upstream.on("close", end).on("error", end)
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const port = (server.address() as import("node:net").AddressInfo).port
      return {
        url: `ws://127.0.0.1:${port}`,
        server,
        kill: () => {
          for (const s of sockets) s.destroy()
        },
        /** Drops everything from now on, in both directions, and closes nothing: a route gone dead. */
        freeze: () => {
          frozen = true
        },
        refuse: (on: boolean) => {
          refusing = on
        },
        accepted: () => accepted
      }
    }),
    (p) => Effect.sync(() => {
      p.kill()
      p.server.close()
    })
  )

/** An HTTP proxy that counts the JSON-RPC methods it forwards (each entry of a batch once). */
export const countingProxy = (targetUrl: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const http = await import("node:http")
      const counts = new Map<string, number>()
      const server = http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", async () => {
          const body = Buffer.concat(chunks).toString("utf8")
          try {
            const parsed = JSON.parse(body)
            for (const entry of Array.isArray(parsed) ? parsed : [parsed]) counts.set(entry.method, (counts.get(entry.method) ?? 0) + 1)
          } catch {
            // forwarded as it is
          }
          try {
            const r = await fetch(targetUrl, { method: "POST", headers: { "content-type": "application/json" }, body })
            const text = await r.text()
            res.writeHead(r.status, { "content-type": "application/json" }).end(text)
          } catch {
            res.destroy()
          }
        })
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const port = (server.address() as import("node:net").AddressInfo).port
      return {
        url: `http://127.0.0.1:${port}`,
        server,
        count: (method: string) => counts.get(method) ?? 0,
        /** Every JSON-RPC request forwarded so far, whatever its method. */
        total: () => [...counts.values()].reduce((a, b) => a + b, 0)
      }
    }),
    (p) => Effect.sync(() => {
      p.server.closeAllConnections()
      p.server.close()
    })
  )
