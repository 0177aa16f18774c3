/** Real worker processes for the crash tests: the example run with `node --import tsx`, killed with SIGKILL. */
import { type ChildProcess, spawn } from "node:child_process"
import { appendFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

export interface Worker {
  readonly child: ChildProcess
  readonly lines: Array<string>
  /** Resolves with the first line (seen so far or later) matching `pattern`. */
  readonly line: (pattern: RegExp, timeoutMs?: number) => Promise<string>
  readonly exited: Promise<number | null>
  readonly kill9: () => Promise<void>
  readonly stderr: () => string
}

export const startWorker = (script: string, env: Record<string, string>): Worker => {
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=starknet-session-keys-source", script], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const lines: Array<string> = []
  let err = ""
  const waiters: Array<{ readonly pattern: RegExp; readonly resolve: (line: string) => void }> = []
  let buffer = ""
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString()
    let i: number
    while ((i = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, i)
      buffer = buffer.slice(i + 1)
      lines.push(line)
      if (process.env["WORKER_LOG"] !== undefined) appendFileSync(process.env["WORKER_LOG"], `[${child.pid}] ${line}\n`)
      for (const w of [...waiters]) {
        if (w.pattern.test(line)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(line)
        }
      }
    }
  })
  child.stderr!.on("data", (chunk: Buffer) => {
    err += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    line: (pattern, timeoutMs = 90_000) =>
      new Promise<string>((resolve, reject) => {
        const seen = lines.find((l) => pattern.test(l))
        if (seen !== undefined) return resolve(seen)
        const timer = setTimeout(() => reject(new Error(`no line ${pattern} within ${timeoutMs} ms; stdout:\n${lines.join("\n")}\nstderr:\n${err}`)), timeoutMs)
        void exited.then((code) => {
          clearTimeout(timer)
          reject(new Error(`exited (${code}) before a line ${pattern}; stdout:\n${lines.join("\n")}\nstderr:\n${err}`))
        })
        waiters.push({ pattern, resolve: (l) => (clearTimeout(timer), resolve(l)) })
      }),
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      await exited
    }
  }
}
