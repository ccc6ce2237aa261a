// The Secretary's workspace. The identity is read from the file the Secretary
// picks, kept only in this tab's sessionStorage, and cleared on logout and
// after 15 minutes without activity. Reports are decrypted here; replies are
// encrypted here to the recipients of the case's readers (the Secretary's or
// the Bureau's keys) and to the reporter's R. The login names the key it
// proves: the challenge is sealed to that key alone.
import { Decrypter, Encrypter, identityToRecipient } from '../vendor/age.js';
import { fromBase64, padJson, rewrapHeader, seal, toBase64, toHex } from './protocol.js';
import { renderEntry } from './thread.js';

const IDENTITIES = 'vigie.identities';
const CSRF = 'vigie.csrf';
const ACTIVITY = 'vigie.activity';
const IDLE_MS = 15 * 60 * 1000;
// Drafts of acknowledgements, replies and closing messages, sealed to the
// case's readers (never kept in clear), one per case and field; and the page
// to come back to after logging in again.
const DRAFT = 'vigie.draft.';
const RETURN = 'vigie.return';
const WORKSPACE_PAGE = /^\/(fr|en)\/secretary(\/(cases\/[0-9a-f-]{36}|journal|figures))?$/;
// The login challenge's exact shape and the answer's domain (docs/protocol.md).
const CHALLENGE_PREFIX = 'vigie/login-challenge/v1\n';
const RESPONSE_DOMAIN = 'vigie/login-response/v1\n';
const POW_DOMAIN = 'vigie/login-pow/v1\n';
const CHALLENGE_LEN = CHALLENGE_PREFIX.length + 64;
const POW_MAX_BITS = 24;
const lang = document.documentElement.lang;

const storedIdentities = () => (sessionStorage.getItem(IDENTITIES) || '').split('\n').filter(Boolean);
const touch = () => sessionStorage.setItem(ACTIVITY, String(Date.now()));
const idle = () => Date.now() - Number(sessionStorage.getItem(ACTIVITY) || 0) > IDLE_MS;

function forgetKey() {
  sessionStorage.removeItem(IDENTITIES);
  sessionStorage.removeItem(CSRF);
  sessionStorage.removeItem(ACTIVITY);
}

function forgetDrafts() {
  for (const key of Object.keys(sessionStorage)) {
    if (key.startsWith(DRAFT)) sessionStorage.removeItem(key);
  }
  sessionStorage.removeItem(RETURN);
}

/**
 * Ends the session. When it expired, the drafts stay (sealed) in this tab,
 * with the page to return to; a deliberate logout forgets them.
 */
async function logout(expired) {
  const csrf = sessionStorage.getItem(CSRF) || '';
  forgetKey();
  if (!expired) forgetDrafts();
  else if (WORKSPACE_PAGE.test(window.location.pathname)) sessionStorage.setItem(RETURN, window.location.pathname);
  try {
    await fetch('/api/v1/secretary/logout', { method: 'POST', headers: { 'X-CSRF-Token': csrf }, credentials: 'same-origin' });
  } catch (e) { /* the session expires on the server anyway */ }
  window.location.assign(`/${lang}/secretary/login${expired ? '?expired=1' : ''}`);
}

function show(el, text, kind) {
  el.hidden = false;
  el.className = kind === 'error' ? 'error' : 'notice';
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

const isHex = (b) => (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66);

/**
 * The answer to a decrypted challenge: SHA-256(RESPONSE_DOMAIN || random
 * part) in hex, or null when the plaintext is not exactly a challenge (the
 * prefix, then 64 lowercase hex characters, nothing else). Whatever else
 * the server sent, a report included, gets no answer at all.
 */
async function answerChallenge(plain) {
  if (plain.length !== CHALLENGE_LEN) return null;
  for (let i = 0; i < CHALLENGE_PREFIX.length; i += 1) {
    if (plain[i] !== CHALLENGE_PREFIX.charCodeAt(i)) return null;
  }
  const random = plain.subarray(CHALLENGE_PREFIX.length);
  if (!random.every(isHex)) return null;
  const input = new Uint8Array(RESPONSE_DOMAIN.length + random.length);
  input.set(new TextEncoder().encode(RESPONSE_DOMAIN));
  input.set(random, RESPONSE_DOMAIN.length);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', input));
  input.fill(0);
  return toHex(digest);
}

function leadingZeroBits(bytes) {
  let bits = 0;
  for (const b of bytes) {
    if (b === 0) { bits += 8; continue; }
    return bits + Math.clz32(b) - 24;
  }
  return bits;
}

/** A nonce such that SHA-256(POW_DOMAIN || seed || nonce) has the asked leading zero bits. */
async function solveProof(puzzle) {
  const seed = String(puzzle.seed || '');
  const bits = Number(puzzle.bits);
  if (!/^[0-9a-f]{64}$/.test(seed) || !Number.isInteger(bits) || bits < 1 || bits > POW_MAX_BITS) return null;
  const enc = new TextEncoder();
  const head = new Uint8Array(POW_DOMAIN.length + 32);
  head.set(enc.encode(POW_DOMAIN));
  head.set(Uint8Array.from(seed.match(/../g), (h) => parseInt(h, 16)), POW_DOMAIN.length);
  // A random start, so that nobody can find and spend our nonce first.
  const start = toHex(crypto.getRandomValues(new Uint8Array(8)));
  const BATCH = 256;
  for (let n = 0; ; n += BATCH) {
    const nonces = [];
    const jobs = [];
    for (let i = 0; i < BATCH; i += 1) {
      const nonce = start + (n + i).toString(16);
      const input = new Uint8Array(head.length + nonce.length);
      input.set(head);
      input.set(enc.encode(nonce), head.length);
      nonces.push(nonce);
      jobs.push(crypto.subtle.digest('SHA-256', input));
    }
    const hashes = await Promise.all(jobs);
    for (let i = 0; i < BATCH; i += 1) {
      if (leadingZeroBits(new Uint8Array(hashes[i])) >= bits) return { seed, nonce: nonces[i] };
    }
  }
}

/**
 * A challenge sealed to `recipient` alone, or null when that key is not one
 * of the readers' keys; under flood the server asks for a proof of work,
 * computed here.
 */
async function requestChallenge(msg, status, recipient) {
  let body = { recipient };
  for (let attempt = 0; attempt < 4; attempt += 1) {
    const response = await postJson('/api/v1/secretary/challenges', body);
    if (response.ok) return response.json();
    const p = await response.json().catch(() => null);
    if (response.status === 400 && p && p.error === 'unknown-key') return null;
    if (response.status !== 429 || !p || !p.proof) throw new LoginError((p && p.message) || msg.failed);
    show(status, msg.proof, 'status');
    const proof = await solveProof(p.proof);
    if (!proof) throw new LoginError(p.message || msg.failed);
    body = { recipient, proof };
  }
  throw new LoginError(msg.failed);
}

/** The first identity of the file that is a reader's key, and its challenge. */
async function challengeForOneOf(identities, msg, status) {
  for (const identity of identities) {
    const recipient = await identityToRecipient(identity);
    const challenge = await requestChallenge(msg, status, recipient);
    if (challenge) return { identity, challenge };
  }
  throw new LoginError(msg.wrongKey);
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
      const { identity, challenge } = await challengeForOneOf(identities, msg, status);
      show(status, msg.working, 'status');
      const d = new Decrypter();
      d.addIdentity(identity);
      let plain;
      try {
        plain = await d.decrypt(fromBase64(challenge.ciphertext));
      } catch (e) {
        throw new LoginError(msg.wrongKey);
      }
      // Nothing is sent unless the plaintext is exactly a login challenge.
      const answer = await answerChallenge(plain);
      plain.fill(0);
      if (!answer) throw new LoginError(msg.notAChallenge);
      const response = await postJson('/api/v1/secretary/sessions', { id: challenge.id, response: answer });
      if (!response.ok) throw new LoginError(await problemOf(response, msg.failed));
      const opened = await response.json();
      sessionStorage.setItem(IDENTITIES, identities.join('\n'));
      sessionStorage.setItem(CSRF, opened.csrf);
      touch();
      form.reset();
      // Back to the page the expired session was on, where a draft waits.
      const back = sessionStorage.getItem(RETURN);
      sessionStorage.removeItem(RETURN);
      window.location.assign(back && WORKSPACE_PAGE.test(back) ? back : `/${lang}/secretary`);
    } catch (e) {
      button.disabled = false;
      show(status, e instanceof LoginError ? e.message : msg.network, 'error');
    }
  });
}

/** The confirmation of a retention below the floor, on the inbox. */
function initRetention(form) {
  const status = document.getElementById('retention-status');
  const msg = document.getElementById('retention-form').dataset;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const response = await postJson('/api/v1/secretary/retention', {
        days: Number(form.dataset.days), confirm: document.getElementById('retention-confirm').checked,
      });
      if (response.status === 401) return logout(true);
      if (!response.ok) {
        button.disabled = false;
        return show(status, await problemOf(response, msg.failed), 'error');
      }
      window.location.reload();
    } catch (e) {
      button.disabled = false;
      show(status, msg.network, 'error');
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
  if (document.querySelector('table.inbox')) initInbox(identities);
  const figures = document.getElementById('figures');
  if (figures) initFigures(figures, identities);
  const retention = document.getElementById('retention-form');
  if (retention) initRetention(retention);
}

/** A report's description, whitespace collapsed, for comparing. */
const normalized = (text) => (text || '').toLowerCase().replace(/\s+/g, ' ').trim();

/** The first words of a text, at most `max` characters. */
function firstWords(text, max = 90) {
  const flat = (text || '').replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  return `${flat.slice(0, flat.lastIndexOf(' ', max) > 40 ? flat.lastIndexOf(' ', max) : max)}…`;
}

/**
 * The inbox, told apart: each row's report is decrypted here to show its
 * category and first words (the server never sees them), and rows whose
 * reports say the same thing are marked as likely duplicates of the oldest.
 */
async function initInbox(identities) {
  const msg = document.getElementById('inbox-messages').dataset;
  const d = new Decrypter();
  for (const i of identities) d.addIdentity(i);
  const labels = document.getElementById('category-labels');
  const same = new Map();
  for (const cell of document.querySelectorAll('td.excerpt[data-ciphertext]')) {
    const row = cell.closest('tr');
    try {
      const report = JSON.parse(await d.decrypt(fromBase64(cell.dataset.ciphertext), 'text'));
      const label = labels.querySelector(`[data-key="${CSS.escape(report.category || '')}"]`);
      const category = document.createElement('strong');
      category.textContent = label ? label.textContent : (report.category || '');
      const words = document.createElement('span');
      words.className = 'words';
      words.textContent = ` ${firstWords(report.description)}`;
      cell.replaceChildren(category, words);
      const text = new TextEncoder().encode(`${report.category}\n${normalized(report.description)}`);
      const digest = toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', text)));
      if (!same.has(digest)) same.set(digest, []);
      same.get(digest).push(row);
    } catch (e) {
      cell.textContent = msg.undecryptable;
    }
    cell.removeAttribute('data-ciphertext');
  }
  // Rows come newest first: the last of a group is the oldest report.
  for (const rows of same.values()) {
    const oldest = rows[rows.length - 1];
    for (const row of rows.slice(0, -1)) {
      const badge = document.createElement('span');
      badge.className = 'badge duplicate';
      badge.textContent = `${msg.duplicate} ${oldest.querySelector('.reference').textContent}`;
      row.querySelector('td.excerpt').append(document.createElement('br'), badge);
    }
  }
}

/**
 * Keeps what is typed in the case's message fields as sealed drafts in this
 * tab (sessionStorage), restores them, and forgets them once sent.
 */
async function initDrafts(id, recipients, decrypter, status, msg) {
  const fields = ['ack-message', 'reply-message', 'close-message']
    .map((name) => document.getElementById(name)).filter(Boolean);
  const keyOf = (field) => `${DRAFT}${id}.${field.id}`;
  const save = async (field) => {
    const text = field.value;
    if (!text.trim()) return sessionStorage.removeItem(keyOf(field));
    const e = new Encrypter();
    for (const r of recipients) e.addRecipient(r);
    sessionStorage.setItem(keyOf(field), toBase64(await e.encrypt(text)));
  };
  let restored = false;
  for (const field of fields) {
    const sealed = sessionStorage.getItem(keyOf(field));
    if (sealed) {
      try {
        field.value = await decrypter.decrypt(fromBase64(sealed), 'text');
        restored = true;
      } catch (e) {
        sessionStorage.removeItem(keyOf(field));
      }
    }
    let timer;
    field.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => save(field), 300);
    });
  }
  if (restored) show(status, msg.draftRestored, 'status');
  return {
    flush: () => Promise.all(fields.map(save)),
    forget: () => fields.forEach((field) => sessionStorage.removeItem(keyOf(field))),
  };
}

/** Fetches an attachment's age file, decrypts it here, saves it under its name. */
async function download(decrypter, caseId, attachment, button, msg) {
  button.disabled = true;
  try {
    // Through the case: the server refuses a file this case did not claim.
    const address = `/api/v1/secretary/cases/${encodeURIComponent(caseId)}/attachments/${encodeURIComponent(attachment.id)}`;
    const response = await fetch(address, {
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
  const id = caseEl.dataset.case;
  for (const article of document.querySelectorAll('.entry[data-ciphertext]')) {
    try {
      renderEntry(
        article.querySelector('.entry-body'),
        JSON.parse(await d.decrypt(fromBase64(article.dataset.ciphertext), 'text')),
        (attachment, button) => download(d, id, attachment, button, msg),
      );
    } catch (e) {
      article.querySelector('.entry-body').textContent = msg.undecryptable;
    }
  }

  const recipients = caseEl.dataset.recipients.split(' ');
  const reporter = recipients.pop();
  const status = document.getElementById('action-status');
  const drafts = await initDrafts(id, recipients, d, status, msg);
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
      if (response.status === 401) {
        await drafts.flush();
        return logout(true);
      }
      if (!response.ok) {
        if (button) button.disabled = false;
        return show(status, await problemOf(response, msg.failed), 'error');
      }
      drafts.forget();
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
  onSubmit('reply-form', 'replies', () => ({
    extra: { feedback: Boolean(document.getElementById('reply-feedback')?.checked) },
    text: document.getElementById('reply-message').value.trim(),
  }));
  onSubmit('close-form', 'close', () => ({
    extra: { reason: document.getElementById('close-reason').value, confirm: document.getElementById('close-confirm').checked },
    text: document.getElementById('close-message').value.trim(),
  }));
  const review = document.getElementById('review-button');
  if (review) review.addEventListener('click', () => act('review', {}, undefined, review));
  const hold = document.getElementById('hold-button');
  hold.addEventListener('click', () => act('hold', { on_hold: caseEl.dataset.onHold !== 'true' }, undefined, hold));
  const deleteForm = document.getElementById('delete-form');
  if (deleteForm) {
    deleteForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const button = deleteForm.querySelector('button[type=submit]');
      button.disabled = true;
      const body = { reason: document.getElementById('delete-reason').value, confirm: document.getElementById('delete-confirm').checked };
      try {
        const response = await postJson(`/api/v1/secretary/cases/${encodeURIComponent(id)}/delete`, body);
        if (response.status === 401) return logout(true);
        if (!response.ok) {
          button.disabled = false;
          return show(status, await problemOf(response, msg.failed), 'error');
        }
        window.location.assign(`/${lang}/secretary`);
      } catch (e) {
        button.disabled = false;
        show(status, msg.network, 'error');
      }
    });
  }
  const referralForm = document.getElementById('referral-form');
  if (referralForm) initReferral(referralForm, id, reporter, identities, msg);
}

/**
 * Alerting the Bureau or stepping aside: every file of the case gets a new
 * header here, the same file key wrapped to the new readers and R, and the
 * server swaps the headers in. The content is never decrypted for this.
 */
function initReferral(form, id, reporter, identities, msg) {
  const section = document.getElementById('referral');
  const status = document.getElementById('referral-status');
  const keys = (list) => (list || '').split(' ').filter(Boolean);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const referral = form.elements.referral.value;
    const bureau = keys(section.dataset.bureauRecipients);
    const to = referral === 'alert' ? [...keys(section.dataset.secretaryRecipients), ...bureau] : bureau;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    show(status, msg.referralWorking, 'status');
    try {
      const found = await fetch(`/api/v1/secretary/cases/${encodeURIComponent(id)}/headers`, {
        credentials: 'same-origin', cache: 'no-store',
      });
      if (found.status === 401) return logout(true);
      if (!found.ok) throw new LoginError(await problemOf(found, msg.failed));
      const headers = await found.json();
      const rewrap = async (b64) => toBase64(await rewrapHeader(fromBase64(b64), identities, [...to, reporter]));
      const body = { referral, entries: [], attachments: [] };
      for (const e of headers.entries) body.entries.push({ position: e.position, header: await rewrap(e.header) });
      for (const a of headers.attachments) body.attachments.push({ id: a.id, header: await rewrap(a.header) });
      const response = await postJson(`/api/v1/secretary/cases/${encodeURIComponent(id)}/reseal`, body);
      if (response.status === 401) return logout(true);
      if (!response.ok) throw new LoginError(await problemOf(response, msg.failed));
      // After a step-aside the case is no longer this reader's.
      window.location.assign(referral === 'alert' ? window.location.href : `/${lang}/secretary`);
    } catch (e) {
      button.disabled = false;
      show(status, e instanceof LoginError ? e.message : msg.network, 'error');
    }
  });
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
