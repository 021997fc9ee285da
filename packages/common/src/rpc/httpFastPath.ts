import type { OutgoingHttpHeaders } from "node:http";
import type { Socket } from "node:net";

/**
 * The common case of JSON-RPC over HTTP, read and answered straight on the socket: a keep-alive
 * HTTP/1.1 `POST` with a `Content-Length` body, answered with one write. Node's `http` server
 * builds a request and a response stream, a headers object and several events and ticks for
 * each: measured with the bench's client, the same JSON-RPC server spends 72-84 µs of CPU a
 * request through it and 64-79 this way, and the sequencer taking single-request transfers
 * ~286 µs a transaction against ~316 (medians of 7 alternating runs). On two cores that is
 * throughput for wallets, which send one transaction a request.
 *
 * Everything else (GET, OPTIONS, WebSocket upgrades, chunked or `Expect` uploads, bodies over
 * the limit, HTTP/1.0, anything unusual in the head) is handed to Node's server at a request
 * boundary, bytes read so far included, and the connection stays there: Node's parser remains
 * the reference for what HTTP allows, and this path only takes what it can read unambiguously.
 * Requests on one connection are answered in order, one at a time, as Node does.
 */

/** What the fast path needs from the server around it. */
export interface FastPathHost {
  maxBodyBytes: number;
  /** Answers a body: the response JSON, or null for 204 (only notifications). */
  handle(body: Buffer): Promise<string | null>;
  cors(origin: string | undefined): OutgoingHttpHeaders;
  /** The answer when `handle` fails (a JSON-RPC internal error). */
  internalError: string;
  /** Takes over the socket; `head` holds what was read and not answered yet. */
  handOver(socket: Socket, head: Buffer): void;
  onError(err: unknown): void;
}

/** Node's default limit on a request head (`--max-http-header-size`); past it Node answers 431. */
const MAX_HEAD_BYTES = 16 * 1024;
const CRLFCRLF = Buffer.from("\r\n\r\n");
const POST_PREFIX = Buffer.from("POST ");

/** Node's timeouts for the same stages (server.ts sets them on its `http` server too). */
export interface FastPathTimeouts {
  /** Idle between requests: the connection is closed. */
  keepAliveMs: number;
  /** A request head must be complete this long after its first byte (408). */
  headersMs: number;
  /** A whole request must be received this long after its first byte (408). */
  requestMs: number;
}

const Stage = {
  /** Between requests. */
  Idle: 0,
  /** A request has started arriving. */
  Reading: 1,
  /** A request is being answered; what arrives meanwhile waits. */
  Answering: 2,
  /** Handed to Node's server, or closed. */
  Gone: 3,
} as const;
type Stage = (typeof Stage)[keyof typeof Stage];

/** Open fast-path connections, so a closing server can end the idle ones and let busy ones finish. */
export class FastPathConnections {
  private readonly conns = new Set<FastConn>();
  private closing = false;
  /** How responses announce keep-alive, as Node's server does. */
  readonly keepAlive: string;

  constructor(
    private readonly host: FastPathHost,
    private readonly timeouts: FastPathTimeouts,
  ) {
    this.keepAlive = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(timeouts.keepAliveMs / 1000)}\r\n\r\n`;
  }

  accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const c = new FastConn(socket, this.host, this.timeouts, this);
    this.conns.add(c);
  }

  forget(c: FastConn): void {
    this.conns.delete(c);
  }

  get isClosing(): boolean {
    return this.closing;
  }

  /** Ends idle connections now; busy ones close after their answer. */
  closeIdle(): void {
    this.closing = true;
    for (const c of this.conns) c.closeIfIdle();
  }

  destroyAll(): void {
    for (const c of this.conns) c.destroy();
  }
}

class FastConn {
  private stage: Stage = Stage.Idle;
  /** Bytes received and not yet consumed by a request, in arrival order. */
  private chunks: Buffer[] = [];
  private received = 0;
  /** Bytes the current request needs before it is looked at again (0: not known yet). */
  private need = 0;
  /** performance.now() at the current request's first byte. */
  private startedAt = 0;
  /** The client ended its side: answer what is in flight, then close. */
  private ended = false;

  constructor(
    private readonly socket: Socket,
    private readonly host: FastPathHost,
    private readonly timeouts: FastPathTimeouts,
    private readonly owner: FastPathConnections,
  ) {
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("timeout", this.onTimeout);
    socket.on("close", this.onClose);
    socket.on("error", noop);
    socket.setTimeout(timeouts.keepAliveMs);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.stage === Stage.Gone) return;
    this.chunks.push(chunk);
    this.received += chunk.length;
    switch (this.stage) {
      case Stage.Idle:
        this.begin();
        this.next();
        break;
      case Stage.Reading: {
        // The socket's timeout catches silence; this, a request trickling in byte by byte.
        const limit = this.need === 0 ? this.timeouts.headersMs : this.timeouts.requestMs;
        if (performance.now() - this.startedAt > limit) this.timedOut();
        else if (this.received >= this.need) this.next();
        break;
      }
      case Stage.Answering:
        // Pipelined requests wait for the answer in flight; past a request's worth, so does the client.
        if (this.received > this.host.maxBodyBytes + MAX_HEAD_BYTES) this.socket.pause();
        break;
    }
  };

  /** The first byte of a request is in. */
  private begin(): void {
    this.stage = Stage.Reading;
    this.need = 0;
    this.startedAt = performance.now();
    this.socket.setTimeout(this.timeouts.headersMs);
  }

  /** What has been received, as one buffer (usually the one chunk it came in). */
  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.received)];
    return this.chunks[0]!;
  }

  /**
   * Reads the request at the head of what was received: answers it when whole, hands the
   * connection over when it is not one this path takes, waits for more bytes otherwise.
   */
  private next(): void {
    const buf = this.joined();
    // Anything but a POST goes to Node at once, however little of it arrived.
    const prefix = Math.min(buf.length, POST_PREFIX.length);
    if (buf.compare(POST_PREFIX, 0, prefix, 0, prefix) !== 0) {
      this.handOver();
      return;
    }
    const headEnd = buf.indexOf(CRLFCRLF);
    if (headEnd < 0) {
      if (buf.length > MAX_HEAD_BYTES) this.handOver();
      return;
    }
    const head = parseHead(buf.toString("latin1", 0, headEnd));
    if (head === null || head.contentLength > this.host.maxBodyBytes) {
      this.handOver();
      return;
    }
    const bodyStart = headEnd + 4;
    const bodyEnd = bodyStart + head.contentLength;
    if (buf.length < bodyEnd) {
      this.need = bodyEnd;
      this.socket.setTimeout(this.timeouts.requestMs);
      return;
    }
    const body = buf.subarray(bodyStart, bodyEnd);
    const rest = buf.subarray(bodyEnd);
    this.chunks = rest.length === 0 ? [] : [rest];
    this.received = rest.length;
    this.stage = Stage.Answering;
    this.socket.setTimeout(0);
    this.host.handle(body).then(
      (out) => this.respond(out === null ? 204 : 200, out, head),
      (err: unknown) => {
        this.host.onError(err);
        this.respond(500, this.host.internalError, head);
      },
    );
  }

  private respond(status: 200 | 204 | 500, body: string | null, head: RequestHead): void {
    if (this.stage === Stage.Gone) return;
    // A client that ended its side after pipelining gets every answer, the connection closing with the last.
    const close = head.close || this.owner.isClosing || (this.ended && this.received === 0);
    let out = `HTTP/1.1 ${STATUS_LINE[status]}\r\n`;
    const cors = this.host.cors(head.origin);
    for (const name in cors) out += `${name}: ${String(cors[name])}\r\n`;
    if (body !== null) {
      out += `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
    }
    out += `Date: ${httpDate()}\r\n`;
    out += close ? "Connection: close\r\n\r\n" : this.owner.keepAlive;
    if (body !== null) out += body;
    if (close) {
      this.stage = Stage.Gone;
      this.owner.forget(this);
      this.endSoon(out);
      return;
    }
    if (this.socket.write(out)) this.answered();
    else {
      // The client is not reading its answers: read and answer nothing more until it has.
      this.socket.pause();
      this.socket.once("drain", this.onDrain);
    }
  }

  private readonly onDrain = (): void => {
    if (this.stage === Stage.Answering) this.answered();
  };

  /** The answer is out: the next pipelined request, or idle until one comes. */
  private answered(): void {
    this.stage = Stage.Idle;
    this.socket.setTimeout(this.timeouts.keepAliveMs);
    if (this.socket.isPaused()) this.socket.resume();
    if (this.received > 0) {
      this.begin();
      this.next();
    }
  }

  /** Node's server takes the connection from here, starting with the bytes not consumed yet. */
  private handOver(): void {
    const s = this.socket;
    const unread = this.received === 0 ? Buffer.alloc(0) : this.joined();
    this.stage = Stage.Gone;
    this.chunks = [];
    this.received = 0;
    this.owner.forget(this);
    s.removeListener("data", this.onData);
    s.removeListener("end", this.onEnd);
    s.removeListener("timeout", this.onTimeout);
    s.removeListener("close", this.onClose);
    s.removeListener("drain", this.onDrain);
    s.removeListener("error", noop);
    s.setTimeout(0);
    s.pause();
    this.host.handOver(s, unread);
  }

  private readonly onEnd = (): void => {
    this.ended = true;
    // A request cut short by the client's end is answered by nobody: Node closes it the same way.
    if (this.stage !== Stage.Answering) this.destroy();
  };

  /** Idle past the keep-alive time: closed. A request slower than Node allows: 408, as Node answers. */
  private readonly onTimeout = (): void => {
    if (this.stage === Stage.Reading) this.timedOut();
    else if (this.stage === Stage.Idle) this.destroy();
  };

  private timedOut(): void {
    this.stage = Stage.Gone;
    this.owner.forget(this);
    this.endSoon(REQUEST_TIMEOUT);
  }

  /** Sends the last bytes, then closes (Node's `destroySoon`). */
  private endSoon(last: string): void {
    const s = this.socket;
    s.end(last, () => s.destroy());
  }

  private readonly onClose = (): void => {
    this.stage = Stage.Gone;
    this.chunks = [];
    this.received = 0;
    this.owner.forget(this);
  };

  closeIfIdle(): void {
    if (this.stage === Stage.Idle) this.destroy();
  }

  destroy(): void {
    this.stage = Stage.Gone;
    this.owner.forget(this);
    this.socket.destroy();
  }
}

interface RequestHead {
  contentLength: number;
  origin: string | undefined;
  /** The client asked to close after this answer. */
  close: boolean;
}

/**
 * The head of a `POST`, when it is plainly one this path takes: HTTP/1.1, one `Content-Length`,
 * no transfer coding, no `Expect` or `Upgrade`, no line folding, nothing but visible ASCII in
 * names. Null for anything else, which Node's parser then judges (and, if bad, answers 400).
 */
function parseHead(head: string): RequestHead | null {
  const lineEnd = head.indexOf("\r\n");
  const requestLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
  if (!REQUEST_LINE.test(requestLine)) return null;
  let contentLength = -1;
  let origin: string | undefined;
  let close = false;
  let at = lineEnd < 0 ? head.length : lineEnd + 2;
  while (at < head.length) {
    let end = head.indexOf("\r\n", at);
    if (end < 0) end = head.length;
    const colon = head.indexOf(":", at);
    if (colon <= at || colon >= end) return null;
    const name = head.slice(at, colon);
    if (!TOKEN.test(name)) return null;
    const value = head.slice(colon + 1, end).trim();
    if (value.includes("\n") || value.includes("\r")) return null;
    switch (name.toLowerCase()) {
      case "content-length":
        if (contentLength !== -1 || !DIGITS.test(value)) return null;
        contentLength = Number(value);
        break;
      case "transfer-encoding":
      case "expect":
      case "upgrade":
        return null;
      case "connection": {
        const v = value.toLowerCase();
        if (v.includes("upgrade")) return null;
        if (v.includes("close")) close = true;
        break;
      }
      case "origin":
        if (origin !== undefined) return null;
        origin = value;
        break;
    }
    at = end + 2;
  }
  if (contentLength < 0) return null;
  return { contentLength, origin, close };
}

/** `POST <target> HTTP/1.1`, the target without spaces or controls. */
const REQUEST_LINE = /^POST [\x21-\x7e]+ HTTP\/1\.1$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DIGITS = /^[0-9]{1,15}$/;

const REQUEST_TIMEOUT = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n";
const STATUS_LINE = { 200: "200 OK", 204: "204 No Content", 500: "500 Internal Server Error" } as const;
let dateSecond = -1;
let dateText = "";
/** The `Date` header, built once a second (as Node caches it). */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

function noop(): void {}
