// The console's entry: sign-in, navigation between views (the part of the
// address after '#') and the refresh timer of the view on screen.

import { call, token, ApiError } from './api.js';
import { fill, errorLine } from './dom.js';
import { live } from './live.js';
import { locks } from './locks.js';
import { decisions, decision } from './decisions.js';
import { user, address } from './subject.js';
import { rulesView } from './rules.js';

const views = { live, locks, decisions, decision, user, address, rules: rulesView };
const $ = (id) => document.getElementById(id);

// session is what whoami said about the token; null when signed out.
let session = null;
// current is the view on screen: its stop function ends its timers.
let current = { stop() {} };

async function signIn(t) {
  token.set(t);
  try {
    session = await call('/v1/console/whoami');
  } catch (err) {
    token.clear();
    session = null;
    throw err;
  }
}

function signOut() {
  token.clear();
  session = null;
  current.stop();
  show();
}

function showLogin(message) {
  $('nav').hidden = true;
  $('who').hidden = true;
  $('view').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('token').value = '';
  $('token').focus();
}

// show renders the view the address names.
function show() {
  current.stop();
  if (!session) {
    showLogin();
    return;
  }
  $('login').hidden = true;
  $('nav').hidden = false;
  $('who').hidden = false;
  $('who-name').textContent = session.name + ' · ' + session.role;
  const [name, ...rest] = location.hash.slice(1).split('/');
  let args = [];
  try {
    args = rest.map(decodeURIComponent);
  } catch {
    args = [];
  }
  const arg = args.join('/');
  const view = views[name] ? name : 'live';
  for (const a of document.querySelectorAll('#nav a')) {
    const on = a.dataset.view === view || (view === 'decision' && a.dataset.view === 'decisions');
    a.classList.toggle('active', on);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const root = $('view');
  root.hidden = false;
  root.dataset.view = view;
  fill(root);
  current = views[view](root, { arg, args, session, onAuthError });
}

// onAuthError signs out when the API stops accepting the token.
function onAuthError(err) {
  if (err instanceof ApiError && err.status === 401) {
    token.clear();
    session = null;
    current.stop();
    showLogin('The server no longer accepts this token: sign in again.');
    return true;
  }
  return false;
}

async function start() {
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim();
    if (!t) return;
    try {
      await signIn(t);
      show();
    } catch (err) {
      showLogin(err instanceof ApiError && err.status === 401 ? 'This token is not accepted.' : err.message);
    }
  });
  $('signout').addEventListener('click', signOut);
  window.addEventListener('hashchange', show);
  if (token.get()) {
    try {
      await signIn(token.get());
    } catch (err) {
      if (!(err instanceof ApiError)) {
        fill($('view'), errorLine('The API did not answer: ' + err.message));
      }
    }
  }
  show();
}

start();
