// The dashboard's one door to Tailor's /v1 API: fetch with the stored key, OpenAI errors as ApiError, Server-Sent
// Events read from a fetch stream, uploads with progress. No DOM here.

const KEY = "tailor.apiKey";

export const getKey = () => localStorage.getItem(KEY) || "";
export const setKey = (key) => localStorage.setItem(KEY, key);
export const clearKey = () => localStorage.removeItem(KEY);

/** An error as the API reports it: OpenAI's {"error": {message, type, param, code}} and the HTTP status. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `The server answered HTTP ${status} without an error message; the server log has the cause.`);
    this.name = "ApiError";
    this.status = status;
    this.type = e.type ?? null;
    this.param = e.param ?? null;
    this.code = e.code ?? null;
  }
}

export const isAbort = (err) => err && err.name === "AbortError";

// A refused key can surface on any page; the app listens once and sends the user back to the key form.
const refusedListeners = new Set();
export function onKeyRefused(listener) { refusedListeners.add(listener); }

function refused(err) {
  if (err.status === 401) refusedListeners.forEach((listener) => listener(err));
  return err;
}

function unreachable(err) {
  return new ApiError(0, { error: { message: `Could not reach the server (${err.message}); check that tailor serve is still running.` } });
}

async function send(method, path, body, signal) {
  const headers = { Authorization: `Bearer ${getKey()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch("/v1" + path, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw isAbort(err) ? err : unreachable(err);
  }
  if (!res.ok) {
    let payload = null;
    try { payload = await res.json(); } catch { /* a proxy's HTML error page: the status alone must do */ }
    throw refused(new ApiError(res.status, payload));
  }
  return res;
}

export async function get(path, { signal } = {}) { return (await send("GET", path, undefined, signal)).json(); }
export async function post(path, body = {}, { signal } = {}) { return (await send("POST", path, body, signal)).json(); }
export async function del(path, { signal } = {}) { return (await send("DELETE", path, undefined, signal)).json(); }

/** A file's content as a Blob; a plain link cannot carry the Authorization header. */
export async function blob(path, { signal } = {}) { return (await send("GET", path, undefined, signal)).blob(); }

/**
 * Yields the `data:` payload of each Server-Sent Event until the server ends the stream. EventSource cannot send
 * the Authorization header, so this reads the body of a fetch; `: ping` comments carry no data and are skipped.
 */
export async function* events(path, { method = "GET", body, signal } = {}) {
  const res = await send(method, path, body, signal);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (err) {
        throw isAbort(err) ? err : unreachable(err);
      }
      if (chunk.done) return;
      buffer += chunk.value;
      for (let end = buffer.search(/\r?\n\r?\n/); end >= 0; end = buffer.search(/\r?\n\r?\n/)) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        const data = block.split(/\r?\n/).filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5)).join("\n");
        if (data) yield data;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * Uploads one file as multipart/form-data with its purpose. XMLHttpRequest rather than fetch, because only XHR
 * reports upload progress; `onProgress` gets the fraction sent (0…1).
 */
export function upload(file, purpose, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("purpose", purpose);
    form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/files");
    xhr.setRequestHeader("Authorization", `Bearer ${getKey()}`);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
      else reject(refused(new ApiError(xhr.status, xhr.response)));
    };
    xhr.onerror = () => reject(unreachable(new Error("the upload was interrupted")));
    xhr.send(form);
  });
}
