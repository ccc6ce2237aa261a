// The report form with JavaScript: the report is encrypted on this device and
// only the ciphertext, L and R are sent. Without JavaScript the same form is
// posted as is and encrypted by the server.
import {
  cryptoAvailable, derive, displayToken, generateToken, padJson, seal, toBase64, toHex,
} from './protocol.js';
import { formatDate } from './thread.js';
import { inspect } from './metadata.js';

const form = document.getElementById('report-form');
if (form) init(form);

function init(form) {
  const msg = document.getElementById('js-messages').dataset;
  const status = document.getElementById('js-status');
  const fallback = document.getElementById('fallback');
  const submit = form.querySelector('button[type=submit]');
  const lang = form.dataset.lang;
  const recipients = form.dataset.recipients.split(' ').filter(Boolean);
  if (cryptoAvailable()) document.getElementById('mode-note').textContent = msg.jsNote;
  const files = initFiles(form, msg, (text) => say(text, 'error'));

  const say = (text, kind) => {
    status.hidden = false;
    status.className = kind === 'error' ? 'error' : 'note';
    status.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    status.textContent = text;
  };
  const offerFallback = () => { fallback.hidden = false; };

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
    if (!cryptoAvailable()) {
      say(msg.noCrypto, 'error');
      return offerFallback();
    }

    submit.disabled = true;
    say(msg.encrypting, 'status');
    let token; let derived; let ciphertext;
    try {
      token = generateToken();
      derived = await derive(token);
    } catch (e) {
      submit.disabled = false;
      say(msg.encryptFailed, 'error');
      return offerFallback();
    }
    if (files.selected.length) {
      say(msg.uploading, 'status');
      try {
        report.attachments = await files.upload(recipients, derived.replyRecipient);
      } catch (e) {
        submit.disabled = false;
        return say(e.message || msg.network, 'error');
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
          attachments: (report.attachments || []).map((a) => a.id),
        }),
      });
    } catch (e) {
      submit.disabled = false;
      return say(msg.network, 'error');
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => null);
      submit.disabled = false;
      return say((problem && problem.message) || msg.failed, 'error');
    }
    const dates = await response.json();
    const shown = await displayToken(token);
    token.fill(0);
    derived.lookup.fill(0);
    derived.replyKey.fill(0);
    showReceipt(form, shown, dates, lang);
  });
}

function showReceipt(form, token, dates, lang) {
  const receipt = document.getElementById('receipt-template').content.cloneNode(true);
  const slot = (name) => receipt.querySelector(`[data-slot="${name}"]`);
  slot('token').textContent = token;
  slot('received-on').textContent = formatDate(dates.received_on, lang);
  slot('ack-due').textContent = formatDate(dates.ack_due, lang);
  slot('feedback-due').textContent = formatDate(dates.feedback_due, lang);
  const page = document.getElementById('report-page');
  form.reset();
  page.replaceChildren(receipt);
  document.title = page.querySelector('h1').textContent;
  page.querySelector('h1').focus();
  window.scrollTo(0, 0);
}

const kb = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} Mo` : `${Math.ceil(n / 1e3)} ko`);

/** The files the reporter attaches: listed, checked, cleaned, then sealed. */
function initFiles(form, msg, fail) {
  const input = document.getElementById('attachments');
  const list = document.getElementById('attachment-list');
  const maxFile = Number(form.dataset.maxFile);
  const maxTotal = Number(form.dataset.maxTotal);
  const selected = [];
  const kindsText = (kinds) => [...kinds].map((k) => msg[`kind${k[0].toUpperCase()}${k.slice(1)}`] || k).join(', ');

  const render = () => {
    list.replaceChildren();
    selected.forEach((item, index) => {
      const li = document.createElement('li');
      li.append(document.createTextNode(`${item.file.name} (${kb(item.file.size)})`));
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'secondary';
      remove.textContent = msg.remove;
      remove.addEventListener('click', () => { selected.splice(index, 1); render(); });
      li.append(remove);
      if (item.info) {
        const p = document.createElement('p');
        p.className = 'help';
        if (item.info.kinds.size) {
          const label = document.createElement('label');
          const box = document.createElement('input');
          box.type = 'checkbox';
          box.checked = item.strip;
          box.addEventListener('change', () => { item.strip = box.checked; });
          label.append(box, document.createTextNode(` ${msg.strip}`));
          p.append(document.createTextNode(`${msg.found} ${kindsText(item.info.kinds)}. `), label);
        } else {
          p.textContent = msg.noneFound;
        }
        li.append(p);
      }
      list.append(li);
    });
  };

  input.addEventListener('change', async () => {
    for (const file of input.files) {
      const total = selected.reduce((n, i) => n + i.file.size, 0);
      if (file.size > maxFile) { fail(msg.fileTooLarge); continue; }
      if (total + file.size > maxTotal) { fail(msg.filesTooLarge); continue; }
      let info = null;
      if (/^image\/(jpeg|png)$/.test(file.type)) info = inspect(new Uint8Array(await file.arrayBuffer()));
      selected.push({ file, info, strip: true });
    }
    input.value = '';
    render();
  });

  return {
    selected,
    /** For the server path chosen explicitly: the files go in the form. */
    toInput() {
      const transfer = new DataTransfer();
      for (const item of selected) transfer.items.add(item.file);
      input.files = transfer.files;
    },
    /** Seals each file in this browser and uploads it; returns what the report lists. */
    async upload(recipients, replyRecipient) {
      const listed = [];
      for (const item of selected) {
        let source = item.file;
        if (item.info && item.strip && item.info.kinds.size) {
          const clean = item.info.strip();
          source = new Blob([clean], { type: item.file.type });
          const note = document.createElement('p');
          note.className = 'help stripped';
          note.textContent = `${msg.stripped} ${kindsText(item.info.kinds)}.`;
          list.children[selected.indexOf(item)]?.append(note);
        }
        // Read as a stream and encrypted as it is read: the file is never
        // held whole in memory in plaintext.
        const sealed = await seal(source.stream(), recipients, replyRecipient);
        const body = await new Response(sealed).blob();
        const response = await fetch('/api/v1/attachments', {
          method: 'POST',
          headers: { 'Content-Type': 'application/octet-stream' },
          credentials: 'omit',
          cache: 'no-store',
          body,
        });
        if (!response.ok) {
          const problem = await response.json().catch(() => null);
          throw new Error((problem && problem.message) || msg.failed);
        }
        const { id } = await response.json();
        listed.push({ id, name: item.file.name, type: item.file.type || 'application/octet-stream', size: source.size });
      }
      return listed;
    },
  };
}
