// Scanned pages to the credit archive over tus 1.0 (creation, offset query, append), with
// progress, automatic retries on a dropped link, and resume after a reload: the upload URL
// is remembered per file, so choosing the same file again carries on where it stopped.
import { label, toast } from './app.js';

const TUS = '1.0.0';
const ENDPOINT = '/api/uploads/';
const CHUNK = 1024 * 1024;
const RETRY_DELAYS = [1000, 2000, 4000, 8000, 15000, 30000];

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? '';
const english = () => document.documentElement.lang === 'en';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function base64(text) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

class UploadFailed extends Error {
  constructor(message, { retry = false, forget = true } = {}) {
    super(message);
    this.retry = retry;   // a link problem: try again
    this.forget = forget; // the server refused: the remembered URL is useless
  }
}

async function refusal(response) {
  const data = await response.json().catch(() => ({}));
  const retry = response.status >= 500 || response.status === 409 || response.status === 423;
  return new UploadFailed(data.message || `${response.status} ${response.statusText}`,
    { retry, forget: !retry && response.status !== 429 });
}

export class TusUpload {
  constructor(file, metadata, { onProgress = () => {}, chunkSize = CHUNK } = {}) {
    this.file = file;
    this.metadata = metadata;
    this.onProgress = onProgress;
    this.chunkSize = chunkSize;
    this.key = `tus:${metadata.loan}:${metadata.code}:${file.name}:${file.size}:${file.lastModified}`;
  }

  headers(extra = {}) {
    return { 'Tus-Resumable': TUS, 'X-CSRF-Token': csrfToken(), ...extra };
  }

  async create() {
    const metadata = Object.entries({ ...this.metadata, filename: this.file.name })
      .map(([k, v]) => `${k} ${base64(String(v))}`).join(',');
    const response = await fetch(ENDPOINT, {
      method: 'POST', credentials: 'same-origin',
      headers: this.headers({ 'Upload-Length': String(this.file.size), 'Upload-Metadata': metadata }),
    });
    if (response.status !== 201) throw await refusal(response);
    const location = new URL(response.headers.get('Location'), window.location.href).pathname;
    localStorage.setItem(this.key, location);
    return location;
  }

  async offset(location) {
    const response = await fetch(location, { method: 'HEAD', credentials: 'same-origin', headers: this.headers(), cache: 'no-store' });
    if (response.status === 404 || response.status === 410) return null;
    if (!response.ok) throw new UploadFailed(`HEAD ${response.status}`, { retry: true, forget: false });
    return Number(response.headers.get('Upload-Offset'));
  }

  // tus checksum extension: the server keeps a chunk only if it hashes to what was read here
  // (crypto.subtle exists on https and localhost only; elsewhere chunks go unchecked).
  async checksum(body) {
    if (!window.crypto?.subtle) return {};
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await body.arrayBuffer()));
    return { 'Upload-Checksum': `sha256 ${btoa(String.fromCharCode(...digest))}` };
  }

  // XMLHttpRequest, not fetch: only it reports upload progress within a chunk.
  async append(location, offset) {
    const body = this.file.slice(offset, Math.min(offset + this.chunkSize, this.file.size));
    const checksum = await this.checksum(body);
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PATCH', location);
      for (const [k, v] of Object.entries(this.headers({ 'Upload-Offset': String(offset),
        'Content-Type': 'application/offset+octet-stream', ...checksum }))) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (event) => this.onProgress(offset + event.loaded, this.file.size);
      xhr.onerror = () => reject(new UploadFailed(label('upload_connection_lost'), { retry: true, forget: false }));
      xhr.ontimeout = xhr.onerror;
      xhr.onload = () => {
        if (xhr.status === 204) return resolve(Number(xhr.getResponseHeader('Upload-Offset')));
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
        // 460: the chunk was damaged on the way (nothing of it was kept): send it again.
        const retry = xhr.status >= 500 || xhr.status === 409 || xhr.status === 460;
        reject(new UploadFailed(data.message || `${xhr.status}`, { retry, forget: !retry }));
      };
      xhr.send(body);
    });
  }

  async record(location) {
    const response = await fetch(location, { credentials: 'same-origin', headers: this.headers(), cache: 'no-store' });
    if (!response.ok) throw await refusal(response);
    return (await response.json()).record;
  }

  // Resume a remembered upload, or start one; retry link failures with growing pauses.
  async start() {
    let location = localStorage.getItem(this.key);
    let offset = location ? await this.offset(location).catch(() => null) : null;
    if (offset === null) {
      location = await this.create();
      offset = 0;
    }
    let failures = 0;
    while (true) {
      try {
        if (offset >= this.file.size) {
          // Everything arrived; a lost answer to the last PATCH is made good by an empty one.
          const done = await this.record(location);
          if (done) break;
          offset = await this.append(location, offset);
          continue;
        }
        offset = await this.append(location, offset);
        this.onProgress(offset, this.file.size);
        failures = 0;
        if (offset >= this.file.size) break;
      } catch (error) {
        if (!error.retry || failures >= RETRY_DELAYS.length) {
          if (error.forget) localStorage.removeItem(this.key);
          throw error;
        }
        await sleep(RETRY_DELAYS[failures++]);
        const known = await this.offset(location).catch(() => undefined);
        if (known === null) { localStorage.removeItem(this.key); throw new UploadFailed(label('upload_expired')); }
        if (known !== undefined) offset = known;
      }
    }
    localStorage.removeItem(this.key);
    return this.record(location);
  }
}

function item(list, text) {
  const li = document.createElement('li');
  const label = document.createElement('span');
  label.textContent = text;
  const bar = document.createElement('progress');
  bar.max = 1;
  bar.value = 0;
  const status = document.createElement('span');
  status.className = 'status';
  li.append(label, ' ', bar, ' ', status);
  list.append(li);
  return { li, bar, status };
}

async function refreshPanel(panel) {
  const loan = panel.dataset.loan;
  const response = await fetch(`/api/archive/loans/${loan}/documents`, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!response.ok) return;
  const data = await response.json();
  const select = panel.querySelector('select[name="code"]');
  const chosen = select.value;
  select.replaceChildren(...data.codes.map((c) => {
    const option = document.createElement('option');
    option.value = c.code;
    option.textContent = `${english() ? c.name_en : c.name_zh} (${c.code})${c.required_now ? ' *' : ''}`;
    return option;
  }));
  if (chosen) select.value = chosen;
  const filed = panel.querySelector('[data-testid="filed-pages"]');
  filed.replaceChildren(...data.filed.map((d) => {
    const li = document.createElement('li');
    li.textContent = `${d.code} · ${english() ? 'page' : '第'} ${d.page}${english() ? '' : ' 页'} · ${d.filename || d.media_type}`;
    li.translate = false;
    li.dataset.code = d.code;
    li.dataset.page = d.page;
    return li;
  }));
  panel.querySelector('form').hidden = !data.open;
}

function setUp(panel) {
  const form = panel.querySelector('form');
  const list = panel.querySelector('[data-testid="uploads"]');
  refreshPanel(panel);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const code = form.elements.code.value;
    const files = [...form.elements.files.files, ...form.elements.photos.files];
    if (!files.length) { toast(label('archive_choose_file'), true); return; }
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      // One after another, so pages are numbered in the order they were chosen.
      for (const file of files) {
        const row = item(list, `${code} · ${file.name}`);
        const upload = new TusUpload(file, { loan: panel.dataset.loan, code }, {
          onProgress: (sent, total) => { row.bar.value = total ? sent / total : 1; },
        });
        try {
          const record = await upload.start();
          row.bar.value = 1;
          row.status.textContent = `${label('upload_filed_page')} ${record.page}`;
          row.li.dataset.state = 'filed';
        } catch (error) {
          row.status.textContent = error.message;
          row.status.className = 'status error';
          row.li.dataset.state = 'failed';
          toast(error.message, true);
        }
      }
    } finally {
      button.disabled = false;
      form.elements.files.value = '';
      form.elements.photos.value = '';
      await refreshPanel(panel);
      // a filed document can open an action that waited for it: show the actions as they are now
      document.dispatchEvent(new CustomEvent('loan-changed', { detail: { loan: panel.dataset.loan } }));
    }
  });
}

for (const panel of document.querySelectorAll('#archive-upload')) setUp(panel);
