// The console's only way to the API: every call carries the token from
// this tab's session storage in the Authorization header, never in a URL.

const tokenKey = 'loginrisk.token';

export const token = {
  get: () => sessionStorage.getItem(tokenKey) || '',
  set: (t) => sessionStorage.setItem(tokenKey, t),
  clear: () => sessionStorage.removeItem(tokenKey),
};

// ApiError is an answer other than 2xx, with the API's message.
export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

// call fetches an API path (already escaped) and returns its JSON.
export async function call(path, { method = 'GET' } = {}) {
  const resp = await fetch(path, {
    method,
    headers: { Authorization: 'Bearer ' + token.get(), Accept: 'application/json' },
    cache: 'no-store',
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  });
  let body = null;
  try {
    body = await resp.json();
  } catch {
    body = null;
  }
  if (!resp.ok) {
    throw new ApiError(resp.status, (body && body.error) || resp.statusText, body && body.field);
  }
  return body;
}

// query builds "?k=v&..." from the non-empty values of params.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// seg escapes one path segment (a user id, an address, a lock key).
export const seg = (s) => encodeURIComponent(s);
