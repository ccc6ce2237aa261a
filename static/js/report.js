// The report form with JavaScript: the report is encrypted on this device and
// only the ciphertext, L and R are sent. Without JavaScript the same form is
// posted as is and encrypted by the server.
import {
  cryptoAvailable, derive, displayToken, generateToken, padJson, seal, toBase64, toHex,
} from './protocol.js';
import { formatDate } from './thread.js';
import { initFiles, UploadRefused } from './files.js';

const form = document.getElementById('report-form');
if (form) init(form);

function init(form) {
  const msg = document.getElementById('js-messages').dataset;
  const status = document.getElementById('js-status');
  const fallback = document.getElementById('fallback');
  const submit = form.querySelector('button[type=submit]');
  const lang = form.dataset.lang;
  const keys = (list) => (list || '').split(' ').filter(Boolean);
  // Who reads the report: the Secretary's keys, or, when the reporter says
  // it concerns the Permanent Secretary, the Bureau's keys only.
  const readers = () => {
    const chosen = form.elements.readership && form.elements.readership.value === 'bureau' ? 'bureau' : 'secretary';
    const recipients = keys(chosen === 'bureau' ? form.dataset.bureauRecipients : form.dataset.recipients);
    return { readership: chosen, recipients };
  };
  if (cryptoAvailable()) document.getElementById('mode-note').textContent = msg.jsNote;
  // With JavaScript each picture has its own choice, in the file list.
  document.getElementById('keep-metadata-choice').hidden = true;
  const files = initFiles(form, msg, (text) => say(text, 'error'), 'attachments', 'attachment-list');

  const say = (text, kind) => {
    status.hidden = false;
    status.className = kind === 'error' ? 'error' : 'notice';
    status.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    status.textContent = text;
  };
  const offerFallback = () => { fallback.hidden = false; };
  let attempt = null;

  document.getElementById('fallback-button').addEventListener('click', () => {
    form.dataset.serverFallback = 'yes';
    files.toInput();
    form.requestSubmit(submit);
  });

  form.addEventListener('submit', async (event) => {
    if (form.dataset.serverFallback === 'yes') return; // the reporter chose it
    event.preventDefault();
    const value = (name) => form.elements[name].value.trim();
    const report = { v: 1, type: 'report', lang, category: value('category'), description: value('description') };
    for (const name of ['period', 'place', 'persons', 'evidence']) {
      if (value(name)) report[name] = value(name);
    }
    if (!report.category) return say(msg.categoryMissing, 'error');
    if (!report.description) return say(msg.descriptionEmpty, 'error');
    if (!form.elements.privacy_ack.checked) return say(msg.privacy, 'error');
    if (!cryptoAvailable()) {
      say(msg.noCrypto, 'error');
      return offerFallback();
    }

    const { readership, recipients } = readers();
    submit.disabled = true;
    say(msg.encrypting, 'status');
    let ciphertext;
    // One token for this form until it is received: a retry after a lost
    // answer names the same case, which then says it was received.
    try {
      if (!attempt) {
        const token = generateToken();
        attempt = { token, derived: await derive(token) };
      }
    } catch (e) {
      submit.disabled = false;
      say(msg.encryptFailed, 'error');
      return offerFallback();
    }
    const { token, derived } = attempt;
    if (files.selected.length) {
      say(msg.uploading, 'status');
      try {
        report.attachments = await files.upload(recipients, derived.replyRecipient, readership);
      } catch (e) {
        submit.disabled = false;
        return say(e instanceof UploadRefused ? e.message : msg.network, 'error');
      }
    }
    try {
      const plaintext = padJson(report);
      ciphertext = await seal(plaintext, recipients, derived.replyRecipient);
      plaintext.fill(0);
    } catch (e) {
      submit.disabled = false;
      say(msg.encryptFailed, 'error');
      return offerFallback();
    }

    let response;
    try {
      response = await fetch('/api/v1/reports', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        credentials: 'omit',
        cache: 'no-store',
        body: JSON.stringify({
          ciphertext: toBase64(ciphertext),
          lookup: toHex(derived.lookup),
          recipient: derived.replyRecipient,
          lang,
          privacy_acknowledged: true,
          readership,
          attachments: (report.attachments || []).map((a) => a.id),
          submission: form.dataset.submission || undefined,
        }),
      });
    } catch (e) {
      submit.disabled = false;
      return say(msg.network, 'error');
    }
    let dates; let notice = '';
    if (response.ok) {
      dates = await response.json();
    } else {
      const problem = await response.json().catch(() => null);
      // `duplicate`: this very token reached the server before (its answer
      // was lost); the case is there, and its dates too.
      dates = problem && problem.error === 'duplicate' ? await datesOf(derived.lookup) : null;
      if (!dates) {
        submit.disabled = false;
        return say((problem && problem.message) || msg.failed, 'error');
      }
      notice = msg.alreadyReceived;
    }
    const shown = await displayToken(token);
    token.fill(0);
    derived.lookup.fill(0);
    derived.replyKey.fill(0);
    attempt = null;
    showReceipt(form, shown, dates, lang, readership === 'bureau' ? msg.readersBureau : msg.readersSecretary, notice);
  });
}

/** The dates of the case `lookup` names, or null. */
async function datesOf(lookup) {
  try {
    const res = await fetch('/api/v1/cases/lookup', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      credentials: 'omit',
      cache: 'no-store',
      body: JSON.stringify({ lookup: toHex(lookup) }),
    });
    return res.ok ? await res.json() : null;
  } catch (e) {
    return null;
  }
}

function showReceipt(form, token, dates, lang, readers, notice) {
  const receipt = document.getElementById('receipt-template').content.cloneNode(true);
  const slot = (name) => receipt.querySelector(`[data-slot="${name}"]`);
  slot('token').textContent = token;
  slot('received-on').textContent = formatDate(dates.received_on, lang);
  slot('ack-due').textContent = formatDate(dates.ack_due, lang);
  slot('feedback-due').textContent = formatDate(dates.feedback_due, lang);
  slot('readers').textContent = readers;
  const already = slot('notice');
  if (notice) already.textContent = notice; else already.remove();
  const download = slot('download');
  download.href = `data:text/plain;charset=utf-8,${encodeURIComponent(codeFile(download.dataset, token))}`;
  const page = document.getElementById('report-page');
  form.reset();
  page.replaceChildren(receipt);
  document.title = page.querySelector('h1').textContent;
  page.querySelector('h1').focus();
  window.scrollTo(0, 0);
  // The code is shown once: leaving or reloading this page loses it, so
  // the browser asks first.
  window.addEventListener('beforeunload', (event) => {
    event.preventDefault();
    event.returnValue = '';
  });
}

/** The small text file that keeps the code, in the page's language. */
export function codeFile(texts, token) {
  return `${texts.heading}\n\n${token}\n\n${texts.where}\n${texts.warning}\n`;
}

