// The Secretary's workspace. The identity is read from the file the Secretary
// picks, kept only in this tab's sessionStorage, and cleared on logout and
// after 15 minutes without activity. Reports are decrypted here; replies are
// encrypted here to every Secretary recipient and to the reporter's R.
import { Decrypter } from '../vendor/age.js';
import { fromBase64, padJson, seal, toBase64 } from './protocol.js';
import { renderEntry } from './thread.js';

const IDENTITIES = 'vigie.identities';
const CSRF = 'vigie.csrf';
const ACTIVITY = 'vigie.activity';
const IDLE_MS = 15 * 60 * 1000;
const lang = document.documentElement.lang;

const storedIdentities = () => (sessionStorage.getItem(IDENTITIES) || '').split('\n').filter(Boolean);
const touch = () => sessionStorage.setItem(ACTIVITY, String(Date.now()));
const idle = () => Date.now() - Number(sessionStorage.getItem(ACTIVITY) || 0) > IDLE_MS;

function forgetKey() {
  sessionStorage.removeItem(IDENTITIES);
  sessionStorage.removeItem(CSRF);
  sessionStorage.removeItem(ACTIVITY);
}

async function logout(expired) {
  const csrf = sessionStorage.getItem(CSRF) || '';
  forgetKey();
  try {
    await fetch('/api/v1/secretary/logout', { method: 'POST', headers: { 'X-CSRF-Token': csrf }, credentials: 'same-origin' });
  } catch (e) { /* the session expires on the server anyway */ }
  window.location.assign(`/${lang}/secretary/login${expired ? '?expired=1' : ''}`);
}

function show(el, text, kind) {
  el.hidden = false;
  el.className = kind === 'error' ? 'error' : 'note';
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.textContent = text;
}

class LoginError extends Error {}

/** The AGE-SECRET-KEY-1 lines of an identity file, plain or passphrase-protected. */
async function readIdentities(file, passphrase, msg) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text;
  if (new TextDecoder().decode(bytes.subarray(0, 22)) === 'age-encryption.org/v1\n') {
    const d = new Decrypter();
    d.addPassphrase(passphrase);
    try {
      text = await d.decrypt(bytes, 'text');
    } catch (e) {
      throw new LoginError(msg.wrongPassphrase);
    }
  } else {
    text = new TextDecoder().decode(bytes);
  }
  bytes.fill(0);
  const identities = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.startsWith('AGE-SECRET-KEY-1'));
  if (!identities.length) throw new LoginError(msg.noIdentity);
  return identities;
}

async function postJson(url, body) {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': sessionStorage.getItem(CSRF) || '' },
    credentials: 'same-origin',
    cache: 'no-store',
    body: JSON.stringify(body),
  });
}

async function problemOf(response, fallback) {
  const p = await response.json().catch(() => null);
  return (p && p.message) || fallback;
}

function initLogin(form) {
  const msg = document.getElementById('login-messages').dataset;
  const status = document.getElementById('login-status');
  forgetKey();
  const button = form.querySelector('button[type=submit]');
  button.disabled = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = document.getElementById('identity-file').files[0];
    const passphrase = document.getElementById('passphrase').value;
    button.disabled = true;
    show(status, msg.working, 'status');
    try {
      const identities = await readIdentities(file, passphrase, msg);
      let response = await postJson('/api/v1/secretary/challenges', {});
      if (!response.ok) throw new LoginError(await problemOf(response, msg.failed));
      const challenge = await response.json();
      const d = new Decrypter();
      for (const i of identities) d.addIdentity(i);
      let answer;
      try {
        answer = await d.decrypt(fromBase64(challenge.ciphertext), 'text');
      } catch (e) {
        throw new LoginError(msg.wrongKey);
      }
      response = await postJson('/api/v1/secretary/sessions', { id: challenge.id, response: answer });
      if (!response.ok) throw new LoginError(await problemOf(response, msg.failed));
      const opened = await response.json();
      sessionStorage.setItem(IDENTITIES, identities.join('\n'));
      sessionStorage.setItem(CSRF, opened.csrf);
      touch();
      form.reset();
      window.location.assign(`/${lang}/secretary`);
    } catch (e) {
      button.disabled = false;
      show(status, e instanceof LoginError ? e.message : msg.network, 'error');
    }
  });
}

function initWorkspace() {
  const status = document.getElementById('workspace-status');
  if (!status) return;
  const identities = storedIdentities();
  if (!identities.length || idle()) {
    if (idle() && identities.length) return logout(true);
    forgetKey();
    status.hidden = false;
    const link = document.createElement('a');
    link.href = `/${lang}/secretary/login`;
    link.textContent = status.dataset.login;
    status.replaceChildren(document.createTextNode(`${status.dataset.noKey} `), link);
    return;
  }
  touch();
  for (const kind of ['click', 'keydown']) document.addEventListener(kind, touch);
  setInterval(() => { if (idle()) logout(true); }, 20 * 1000);
  const out = document.getElementById('logout');
  out.hidden = false;
  out.addEventListener('click', () => logout(false));
  const caseEl = document.getElementById('case');
  if (caseEl) initCase(caseEl, identities);
  const figures = document.getElementById('figures');
  if (figures) initFigures(figures, identities);
}

/** Fetches an attachment's age file, decrypts it here, saves it under its name. */
async function download(decrypter, attachment, button, msg) {
  button.disabled = true;
  try {
    const response = await fetch(`/api/v1/secretary/attachments/${encodeURIComponent(attachment.id)}`, {
      credentials: 'same-origin',
      cache: 'no-store',
    });
    if (!response.ok) throw new Error('download');
    const plain = await decrypter.decrypt(new Uint8Array(await response.arrayBuffer()));
    const url = URL.createObjectURL(new Blob([plain], { type: attachment.type || 'application/octet-stream' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = attachment.name || attachment.id;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60 * 1000);
  } catch (e) {
    show(document.getElementById('action-status'), msg.undecryptable, 'error');
  } finally {
    button.disabled = false;
  }
}

async function initCase(caseEl, identities) {
  const msg = document.getElementById('case-messages').dataset;
  const d = new Decrypter();
  for (const i of identities) d.addIdentity(i);
  for (const article of document.querySelectorAll('.entry[data-ciphertext]')) {
    try {
      renderEntry(
        article.querySelector('.entry-body'),
        JSON.parse(await d.decrypt(fromBase64(article.dataset.ciphertext), 'text')),
        (attachment, button) => download(d, attachment, button, msg),
      );
    } catch (e) {
      article.querySelector('.entry-body').textContent = msg.undecryptable;
    }
  }

  const id = caseEl.dataset.case;
  const recipients = caseEl.dataset.recipients.split(' ');
  const reporter = recipients.pop();
  const status = document.getElementById('action-status');
  const act = async (action, extra, text, button) => {
    if (button) button.disabled = true;
    show(status, msg.sending, 'status');
    try {
      const body = { ...extra };
      if (text !== undefined) {
        const plaintext = padJson({ v: 1, type: 'reply', lang, body: text });
        body.ciphertext = toBase64(await seal(plaintext, recipients, reporter));
        plaintext.fill(0);
      }
      const response = await postJson(`/api/v1/secretary/cases/${encodeURIComponent(id)}/${action}`, body);
      if (response.status === 401) return logout(true);
      if (!response.ok) {
        if (button) button.disabled = false;
        return show(status, await problemOf(response, msg.failed), 'error');
      }
      window.location.reload();
    } catch (e) {
      if (button) button.disabled = false;
      show(status, msg.network, 'error');
    }
  };
  const onSubmit = (formId, action, fields) => {
    const form = document.getElementById(formId);
    if (!form) return;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const { extra, text } = fields(form);
      act(action, extra, text, form.querySelector('button[type=submit]'));
    });
  };
  onSubmit('ack-form', 'acknowledge', () => ({ text: document.getElementById('ack-message').value.trim() }));
  onSubmit('reply-form', 'replies', () => ({ text: document.getElementById('reply-message').value.trim() }));
  onSubmit('close-form', 'close', () => ({
    extra: { reason: document.getElementById('close-reason').value },
    text: document.getElementById('close-message').value.trim(),
  }));
  const review = document.getElementById('review-button');
  if (review) review.addEventListener('click', () => act('review', {}, undefined, review));
  const hold = document.getElementById('hold-button');
  hold.addEventListener('click', () => act('hold', { on_hold: caseEl.dataset.onHold !== 'true' }, undefined, hold));
}

/** Figures by category: the year's reports decrypted here and counted here. */
function initFigures(figures, identities) {
  const button = document.getElementById('figures-categories');
  const table = document.querySelector('#category-figures tbody');
  button.addEventListener('click', async () => {
    button.disabled = true;
    const response = await fetch(`/api/v1/secretary/figures/reports?year=${figures.dataset.year}`, {
      credentials: 'same-origin',
      cache: 'no-store',
    });
    if (!response.ok) { button.disabled = false; return; }
    const { reports } = await response.json();
    const d = new Decrypter();
    for (const i of identities) d.addIdentity(i);
    const counts = new Map();
    for (const b64 of reports) {
      let category = '?';
      try {
        category = JSON.parse(await d.decrypt(fromBase64(b64), 'text')).category || '?';
      } catch (e) { /* counted as unknown */ }
      counts.set(category, (counts.get(category) || 0) + 1);
    }
    table.replaceChildren();
    for (const [key, n] of [...counts].sort((a, b) => b[1] - a[1])) {
      const row = document.createElement('tr');
      const th = document.createElement('th');
      th.scope = 'row';
      const label = document.querySelector(`#category-labels [data-key="${CSS.escape(key)}"]`);
      th.textContent = label ? label.textContent : key;
      const td = document.createElement('td');
      td.textContent = String(n);
      td.dataset.category = key;
      row.append(th, td);
      table.append(row);
    }
    button.disabled = false;
  });
}

const loginForm = document.getElementById('login-form');
if (loginForm) initLogin(loginForm);
else initWorkspace();
