// api: the UI's only door to the daemon, the public HTTP API (docs/api.md).
// Requests carry the HttpOnly session cookie set by GET /?code=...; POSTs
// send the page's Origin, which the daemon checks. Errors come back as Error objects
// with the daemon's {"error": "..."} text and the HTTP status.
//
// Streams (Server-Sent Events) are wrapped so that the page, not the
// browser, decides how to reconnect: on any error the EventSource is closed
// and a new one is opened after a short backoff with ?after=<last seq the
// caller holds>. That works against a restarted daemon (a new process with
// the same port, token and saved sessions) and keeps every stream exactly-once, because the
// caller drops anything at or below its own last seq.

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

// Performs one request; returns the parsed JSON body (or null when empty).
async function request(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError('daemon unreachable', 0);
  }
  const text = await res.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch (e) {
      json = null;
    }
  }
  if (!res.ok) {
    const msg = (json && json.error) || text.trim() || res.statusText ||
      `HTTP ${res.status}`;
    throw new ApiError(msg, res.status);
  }
  return json;
}

const enc = encodeURIComponent;

export const api = {
  tree: () => request('GET', '/api/v1/tree'),
  runner: (name) => request('GET', `/api/v1/runners/${enc(name)}`),
  output: (name, after, limit) => request('GET',
    `/api/v1/runners/${enc(name)}/output?after=${after}&limit=${limit}`),
  runnerCmd: (name, cmd, body) => request('POST',
    `/api/v1/runners/${enc(name)}/${cmd}`, body === undefined ? {} : body),
  groupRestart: (name) => request('POST',
    `/api/v1/groups/${enc(name)}/restart`, {}),
  watchResume: (name) => request('POST',
    `/api/v1/runners/${enc(name)}/watch/resume`, {}),
  // Bytes for the terminal of a runner with "pty" (as if typed).
  input: (name, data) => request('POST',
    `/api/v1/runners/${enc(name)}/input`, { data }),
  outputStreamUrl: (name) => `/api/v1/runners/${enc(name)}/output/stream`,
  eventsStreamUrl: () => '/api/v1/events/stream',
};

// Returns every chunk of a runner with after < seq <= upTo (upTo 0 = to the
// end), fetching pages until done; the daemon may cap each page. Returns
// {chunks, reachedStart, gap} where reachedStart means no chunk exists at or
// below after + 1 that was not returned (the log starts inside the range),
// and gap ({from, first_available} or null) is the daemon's word that the
// chunks right after `after` were rotated away. The chunks are contiguous:
// reading stops at a later hole (the next call reports it as its gap).
export async function fetchRange(name, after, upTo, page = 1000) {
  const chunks = [];
  let cur = after;
  let first = true;
  let reachedStart = false;
  let gap = null;
  for (;;) {
    const limit = upTo ? Math.min(page, upTo - cur) : page;
    if (limit <= 0) break;
    const r = await api.output(name, cur, limit);
    const got = (r && r.chunks) || [];
    if (first) {
      reachedStart = after === 0 || got.length === 0 ||
        got[0].seq > after + 1;
      gap = (r && r.gap) || null;
      first = false;
    } else if (r && r.gap) {
      break;
    }
    for (const c of got) {
      if (upTo && c.seq > upTo) break;
      if (c.seq > cur) chunks.push(c);
    }
    if (got.length === 0) break;
    const last = got[got.length - 1].seq;
    if (last <= cur || (upTo && last >= upTo)) break;
    cur = last;
    if (got.length < limit && !upTo) break;
  }
  return { chunks, reachedStart, gap };
}

// A self-reconnecting SSE stream. opts: {url, lastSeq() -> number | null
// (null = start at the live position), onItem(obj), onOpen(), onDown(),
// onGap(info)}. Items are parsed JSON objects in order. info is the gap
// event's {from, first_available} (items that are gone for good), or null
// when the event carried none (the caller refills from the store).
export class Stream {
  constructor(opts) {
    this.opts = opts;
    this.es = null;
    this.timer = 0;
    this.delay = 250;
    this.closed = false;
    this.up = false;
    this.connect();
  }

  // Opens a new EventSource from the caller's last seq.
  connect() {
    if (this.closed) return;
    const seq = this.opts.lastSeq();
    const url = seq === null || seq === undefined ? this.opts.url
      : `${this.opts.url}?after=${seq}`;
    const es = new EventSource(url, { withCredentials: true });
    this.es = es;
    es.onopen = () => {
      if (this.es !== es) return;
      this.delay = 250;
      this.up = true;
      if (this.opts.onOpen) this.opts.onOpen();
    };
    es.onmessage = (m) => {
      if (this.es !== es) return;
      let obj;
      try {
        obj = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      this.opts.onItem(obj);
    };
    // The daemon says which items are gone (rotated away) before the first
    // item after them.
    es.addEventListener('gap', (m) => {
      if (this.es !== es || !this.opts.onGap) return;
      let info = null;
      try {
        info = JSON.parse(m.data);
      } catch (e) {
        info = null;
      }
      this.opts.onGap(info && info.first_available > info.from ? info : null);
    });
    es.onerror = () => {
      if (this.es !== es) return;
      es.close();
      this.es = null;
      const wasUp = this.up;
      this.up = false;
      if (this.opts.onDown) this.opts.onDown(wasUp);
      this.schedule();
    };
  }

  // Reconnects after the current delay, doubling it up to 2 s.
  schedule() {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.connect();
    }, this.delay);
    this.delay = Math.min(this.delay * 2, 2000);
  }

  // Drops the connection and opens it again at once (after a refill).
  restart() {
    if (this.closed) return;
    if (this.es) this.es.close();
    this.es = null;
    this.up = false;
    clearTimeout(this.timer);
    this.timer = 0;
    this.connect();
  }

  // Closes the stream for good.
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.es) this.es.close();
    this.es = null;
  }
}
