// The reporter's follow-up with JavaScript: the token never leaves this
// page. The browser derives L (sent once per request, in a POST body) and K
// (never sent), decrypts the thread itself and seals new messages itself.
import { Decrypter } from '../vendor/age.js';
import {
  cryptoAvailable, derive, fromBase64, padJson, parseToken, seal, toBase64, toHex,
} from './protocol.js';
import { formatDate, label, renderEntry } from './thread.js';
import { initFiles, UploadRefused } from './files.js';

const form = document.getElementById('followup-form');
if (form) init(form);


function say(el, text, kind) {
  el.hidden = false;
  el.className = kind === 'error' ? 'error' : 'notice';
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.textContent = text;
}

async function post(url, body) {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    credentials: 'omit',
    cache: 'no-store',
    body: JSON.stringify(body),
  });
}

async function problemOf(response, fallback) {
  const p = await response.json().catch(() => null);
  return (p && p.message) || fallback;
}

function init(form) {
  const msg = document.getElementById('js-messages').dataset;
  const status = document.getElementById('js-status');
  const lang = form.dataset.lang;
  const submit = form.querySelector('button[type=submit]');

  document.getElementById('fallback-button').addEventListener('click', () => {
    form.dataset.serverFallback = 'yes';
    form.requestSubmit(submit);
  });

  form.addEventListener('submit', async (event) => {
    if (form.dataset.serverFallback === 'yes') return; // the reporter chose it
    event.preventDefault();
    if (!cryptoAvailable()) {
      say(status, msg.noCrypto, 'error');
      document.getElementById('fallback').hidden = false;
      return;
    }
    let token;
    try {
      token = await parseToken(form.elements.token.value);
    } catch (e) {
      return say(status, msg.typo, 'error');
    }
    submit.disabled = true;
    say(status, msg.working, 'status');
    const keys = await derive(token);
    token.fill(0);
    const shown = await showCase(keys, { msg, lang, status });
    if (shown) {
      form.reset();
    } else {
      submit.disabled = false;
      keys.lookup.fill(0);
      keys.replyKey.fill(0);
    }
  });
}

/** Fetches the case by L, decrypts it with K, and shows it. */
async function showCase(keys, ctx, notice) {
  const { msg, lang, status } = ctx;
  let response;
  try {
    response = await post('/api/v1/cases/lookup', { lookup: toHex(keys.lookup) });
  } catch (e) {
    say(status, msg.network, 'error');
    return false;
  }
  if (response.status === 404) {
    say(status, msg.unknown, 'error');
    return false;
  }
  if (!response.ok) {
    say(status, await problemOf(response, msg.failed), 'error');
    return false;
  }
  const found = await response.json();
  // Messages and files are sealed to the case's readers (the Secretary's
  // keys, the Bureau's, or both) and to R.
  ctx.recipients = found.recipients;
  ctx.readership = found.readership;
  const view = document.getElementById('case-template').content.cloneNode(true);
  const open = found.status !== 'closed';
  const values = {
    status: label('status-labels', found.status)
      + (found.closure_reason ? ` — ${label('reason-labels', found.closure_reason)}` : ''),
    received_on: formatDate(found.received_on, lang),
    acknowledged_on: found.acknowledged_on && formatDate(found.acknowledged_on, lang),
    ack_due: !found.acknowledged_on && formatDate(found.ack_due, lang),
    closed_on: found.closed_on && formatDate(found.closed_on, lang),
    feedback_due: open && formatDate(found.feedback_due, lang),
    readers: label('readers-labels', found.readership),
  };
  for (const dd of view.querySelectorAll('dd[data-slot]')) {
    const value = values[dd.dataset.slot];
    if (value) {
      dd.textContent = value;
    } else {
      dd.previousElementSibling.remove();
      dd.remove();
    }
  }
  for (const el of view.querySelectorAll('[data-when]')) {
    if ((el.dataset.when === 'open') !== open) el.remove();
  }
  const thread = view.querySelector('[data-slot="thread"]');
  const d = new Decrypter();
  d.addIdentity(keys.replyIdentity);
  for (const entry of found.entries) {
    const article = document.createElement('article');
    article.className = `entry entry-${entry.kind}`;
    const heading = document.createElement('h3');
    const kind = entry.kind === 'reply' && entry.from === 'bureau' ? 'reply-bureau' : entry.kind;
    heading.textContent = `${label('entry-labels', kind)} — ${formatDate(entry.created_on, lang)}`;
    const body = document.createElement('div');
    body.className = 'entry-body';
    try {
      renderEntry(body, JSON.parse(await d.decrypt(fromBase64(entry.ciphertext), 'text')));
    } catch (e) {
      body.textContent = msg.undecryptable;
    }
    article.append(heading, body);
    thread.append(article);
  }
  if (notice) say(view.getElementById('case-notice'), notice, 'status');
  const page = document.getElementById('followup-page');
  page.replaceChildren(view);
  page.querySelector('h1').focus();

  const messageForm = document.getElementById('message-form');
  if (messageForm) {
    const messageStatus = document.getElementById('message-status');
    const files = initFiles(messageForm, msg, (text) => say(messageStatus, text, 'error'), 'message-attachments', 'message-attachment-list');
    // One key for this message until it is stored: sent again after a lost
    // answer, it is stored once.
    const submission = crypto.randomUUID();
    messageForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const text = document.getElementById('message-body').value.trim();
      if (!text) return say(messageStatus, msg.empty, 'error');
      const button = messageForm.querySelector('button[type=submit]');
      button.disabled = true;
      say(messageStatus, msg.sending, 'status');
      try {
        const message = { v: 1, type: 'message', lang, body: text };
        if (files.selected.length) {
          say(messageStatus, msg.uploading, 'status');
          message.attachments = await files.upload(ctx.recipients, keys.replyRecipient, ctx.readership);
        }
        const plaintext = padJson(message);
        const ciphertext = await seal(plaintext, ctx.recipients, keys.replyRecipient);
        plaintext.fill(0);
        const sent = await post('/api/v1/cases/messages', {
          lookup: toHex(keys.lookup),
          ciphertext: toBase64(ciphertext),
          attachments: (message.attachments || []).map((a) => a.id),
          submission,
        });
        const problem = sent.ok ? null : await sent.json().catch(() => ({}));
        if (problem && problem.error !== 'already-sent') {
          button.disabled = false;
          return say(messageStatus, problem.message || msg.failed, 'error');
        }
        await showCase(keys, { ...ctx, status: messageStatus }, problem ? msg.already : msg.sent);
      } catch (e) {
        button.disabled = false;
        say(messageStatus, e instanceof UploadRefused ? e.message : msg.network, 'error');
      }
    });
  }
  return true;
}
