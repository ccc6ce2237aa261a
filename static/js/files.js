// Files a reporter attaches: listed with their size and a remove button,
// checked against the limits before anything is sent, cleaned of hidden
// information (JPEG and PNG) when the reporter agrees, then each sealed in
// this browser as a stream and uploaded as its own age file.
import { seal } from './protocol.js';
import { inspect } from './metadata.js';

const kb = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} Mo` : `${Math.ceil(n / 1e3)} ko`);

/** The files the reporter attaches: listed, checked, cleaned, then sealed. */
/** The server refused a file: its translated reason is shown as it is. */
export class UploadRefused extends Error {}

export function initFiles(form, msg, fail, inputId, listId) {
  const input = document.getElementById(inputId);
  const list = document.getElementById(listId);
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
      remove.setAttribute('aria-label', `${msg.remove} ${item.file.name}`);
      remove.addEventListener('click', () => {
        selected.splice(index, 1);
        render();
        // Focus stays in the list: on the next file's button, or the one
        // before, or back on the file chooser when none is left.
        const buttons = list.querySelectorAll('li > button');
        (buttons[Math.min(index, buttons.length - 1)] || input).focus();
      });
      li.append(remove);
      if (item.unreadable) {
        // A JPEG or PNG whose structure the reader could not follow: say so
        // rather than "nothing found".
        const p = document.createElement('p');
        p.className = 'help';
        p.textContent = item.doc ? msg.documentUnreadable : msg.unreadable;
        li.append(p);
      } else if (item.info) {
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
          p.textContent = item.doc ? msg.noneFoundDocument : msg.noneFound;
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
      const picture = /^image\/(jpeg|png)$/.test(file.type);
      // Office and OpenDocument files, by their type or their name.
      const doc = /officedocument|opendocument|\/pdf$/.test(file.type)
        || /\.(docx|docm|dotx|xlsx|xlsm|pptx|pptm|odt|ods|odp|odg|pdf)$/i.test(file.name);
      if (picture || doc) {
        try {
          info = inspect(new Uint8Array(await file.arrayBuffer()));
        } catch {
          info = null;
        }
      }
      selected.push({ file, info, strip: true, doc: doc && !picture, unreadable: (picture || doc) && !info });
    }
    input.value = '';
    render();
  });

  return {
    selected,
    /** For the server path chosen explicitly: the files go in the form. */
    toInput() {
      // The reporter kept a picture as it is: the server must not clean it.
      const keep = form.elements.keep_metadata;
      if (keep) keep.checked = selected.some((item) => item.info && !item.strip && item.info.kinds.size);
      const transfer = new DataTransfer();
      for (const item of selected) {
        // Cleaned here first when the reporter asked for it, even on this path.
        const clean = item.info && item.strip && item.info.kinds.size
          ? new File([item.info.strip()], item.file.name, { type: item.file.type })
          : item.file;
        transfer.items.add(clean);
      }
      input.files = transfer.files;
    },
    /**
     * Seals each file in this browser for the case's readers and R and
     * uploads it; returns what the report lists.
     */
    async upload(recipients, replyRecipient, readership = 'secretary') {
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
        const response = await fetch(`/api/v1/attachments?readership=${encodeURIComponent(readership)}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/octet-stream' },
          credentials: 'omit',
          cache: 'no-store',
          body,
        });
        if (!response.ok) {
          const problem = await response.json().catch(() => null);
          throw new UploadRefused((problem && problem.message) || msg.failed);
        }
        const { id } = await response.json();
        listed.push({ id, name: item.file.name, type: item.file.type || 'application/octet-stream', size: source.size });
      }
      return listed;
    },
  };
}
