// Small page helpers: forms marked data-api are sent to the JSON API with the CSRF token.
const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? '';
let labels = null;

// A label of the page's language, from the catalogue the server put in the page (web/i18n.py JS_LABELS).
export function label(key) {
  labels ??= JSON.parse(document.getElementById('labels')?.textContent || '{}');
  return labels[key] ?? key;
}

export async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken(), 'Accept': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const data = await response.json().catch(() => ({ error: 'bad_response', message: response.statusText }));
  if (!response.ok) throw Object.assign(new Error(data.message || response.statusText), { data, status: response.status });
  return data;
}

export function toast(message, isError = false) {
  const box = document.getElementById('toast');
  if (!box) return;
  box.textContent = message;
  box.className = isError ? 'show error' : 'show';
  clearTimeout(box._timer);
  box._timer = setTimeout(() => { box.className = ''; }, 4000);
}

function formBody(form) {
  const body = {};
  for (const element of form.elements) {
    if (!element.name || element.disabled) continue;
    if (element.type === 'hidden' && element.dataset.array !== undefined) {
      (body[element.name] ??= []).push(element.value);  // kept as it is (e.g. a role this admin may not grant)
    } else if (element.type === 'checkbox') {
      if (element.name === 'roles' || element.dataset.array !== undefined) {
        (body[element.name] ??= []);
        if (element.checked) body[element.name].push(element.value);
      } else {
        body[element.name] = element.checked;
      }
    } else if (element.value !== '' || element.required) {
      body[element.name] = element.dataset.type === 'integer' ? Number(element.value) : element.value;
    }
  }
  return body;
}

document.addEventListener('submit', async (event) => {
  const form = event.target;
  if (!form.dataset.api) return;
  event.preventDefault();
  const button = form.querySelector('button[type="submit"]');
  if (button) button.disabled = true;
  try {
    const body = formBody(form);
    if (form.dataset.stepUp) {  // a credential change: confirmed with the administrator's fingerprint
      const { stepUp } = await import('/static/fingerprint.js');
      const confirmed = form.dataset.stepUpUser ? { ...body, user_id: Number(form.dataset.stepUpUser) } : body;
      const token = await stepUp(0, form.dataset.stepUp, confirmed);
      if (token) body.step_up = token;
    }
    await api(form.dataset.method || 'POST', form.dataset.api, body);
    toast(label('saved'));
    if (form.dataset.reload) window.location.reload();
  } catch (error) {
    toast(error.message, true);
  } finally {
    if (button) button.disabled = false;
  }
});

// Workflow action forms: typed fields become the command's payload.
function fieldValue(element) {
  const type = element.dataset.type;
  if (type === 'boolean') return element.checked;
  if (element.value === '') return undefined;
  if (type === 'integer') return Number(element.value);
  if (type === 'money') return Math.round(Number(element.value) * 100);  // yuan on screen, fen in the API
  if (type === 'datetime') return new Date(element.value).toISOString();
  if (type === 'object') {
    const items = {};
    for (const line of element.value.split('\n')) {
      const at = line.search(/[:：]/);
      if (at > 0) items[line.slice(0, at).trim()] = line.slice(at + 1).trim();
      else if (line.trim()) items[line.trim()] = '';
    }
    return items;
  }
  return element.value;
}

document.addEventListener('submit', async (event) => {
  const form = event.target;
  if (!form.dataset.command) return;
  event.preventDefault();
  const payload = {};
  for (const element of form.elements) {
    if (!element.name) continue;
    const value = fieldValue(element);
    if (value !== undefined) payload[element.name] = value;
  }
  const button = form.querySelector('button[type="submit"]');
  if (button) button.disabled = true;
  try {
    const body = { action: form.dataset.action, payload };
    if (form.dataset.important === 'true') {  // ★: confirmed with the operator's fingerprint
      const { stepUp } = await import('/static/fingerprint.js');
      const token = await stepUp(Number(form.dataset.loan), form.dataset.action, payload);
      if (token) body.step_up = token;
    }
    await api('POST', form.dataset.command, body);
    window.location.reload();
  } catch (error) {
    toast(error.message, true);
    if (button) button.disabled = false;
  }
});

// When something on the loan page changed what may be done (a document filed), the actions are
// read again from the server: an action waiting for that document opens without a reload.
document.addEventListener('loan-changed', async () => {
  const current = document.querySelector('[data-testid="actions"]');
  const response = await fetch(window.location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
  if (!response.ok) return;
  const page = new DOMParser().parseFromString(await response.text(), 'text/html');
  const fresh = page.querySelector('[data-testid="actions"]');
  if (current && fresh) current.replaceWith(document.adoptNode(fresh));
  else if (current) current.remove();
  else if (fresh) document.querySelector('[data-testid="history"]')?.closest('section')?.before(document.adoptNode(fresh));
  bindOfficePickers(document);
  document.dispatchEvent(new CustomEvent('actions-refreshed'));
});

// Officers A and B are chosen among the officers of the office picked in the same form.
function bindOfficePickers(root) {
  for (const picker of root.querySelectorAll('select[data-officers-of]')) {
    const office = picker.form?.elements[picker.dataset.officersOf];
    if (!office || picker.dataset.bound) continue;
    picker.dataset.bound = 'true';
    const follow = () => {
      let keep = false;
      for (const option of picker.options) {
        option.hidden = option.dataset.office !== office.value;
        option.disabled = option.hidden;
        if (!option.hidden && option.selected) keep = true;
      }
      if (!keep) picker.value = [...picker.options].find((o) => !o.hidden)?.value ?? '';
    };
    office.addEventListener('change', follow);
    follow();
  }
}
bindOfficePickers(document);
