// Showing one decrypted entry of a case's thread (report, message or reply),
// with the page's own labels. Text is only ever set as text, never as HTML.

/** Lists the files a message names; `onDownload` adds a button to each. */
function renderAttachments(body, message, onDownload) {
  if (!Array.isArray(message.attachments) || !message.attachments.length) return;
  const list = document.createElement('ul');
  list.className = 'attachments';
  for (const a of message.attachments) {
    const li = document.createElement('li');
    li.textContent = `${a.name} (${Math.ceil((a.size || 0) / 1000)} ko) `;
    if (onDownload) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary download';
      button.dataset.attachment = a.id;
      button.textContent = document.getElementById('report-view').dataset.download || 'Download';
      button.addEventListener('click', () => onDownload(a, button));
      li.append(button);
    }
    list.append(li);
  }
  body.append(list);
}

/** Fills `body` with a decrypted protocol v1 message. */
export function renderEntry(body, message, onDownload) {
  if (message.type === 'report') {
    const view = document.getElementById('report-view').content.cloneNode(true);
    const labels = document.getElementById('category-labels');
    const label = labels.querySelector(`[data-key="${CSS.escape(message.category || '')}"]`);
    for (const el of view.querySelectorAll('[data-field]')) {
      const field = el.dataset.field;
      const value = field === 'category' ? (label ? label.textContent : message.category) : message[field];
      if (value) {
        el.textContent = value;
      } else if (el.tagName === 'DD') {
        el.previousElementSibling.remove();
        el.remove();
      }
    }
    body.replaceChildren(view);
  } else {
    const text = document.createElement('div');
    text.className = 'text';
    text.textContent = message.body || '';
    body.replaceChildren(text);
  }
  renderAttachments(body, message, onDownload);
}

/** The label of `key` in the hidden list `id` of the page. */
export function label(id, key) {
  const el = document.getElementById(id).querySelector(`[data-key="${CSS.escape(key)}"]`);
  return el ? el.textContent : key;
}

/** A date written out in the page's language. */
export function formatDate(iso, lang) {
  const format = new Intl.DateTimeFormat(lang === 'fr' ? 'fr-FR' : 'en-GB', {
    day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC',
  });
  const written = format.format(new Date(`${iso}T00:00:00Z`));
  // French writes the first of a month "1er", as the server does.
  return lang === 'fr' ? written.replace(/^1 /, '1er ') : written;
}
