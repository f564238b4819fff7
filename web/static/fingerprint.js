// Fingerprint pages: files saved by the scanner software are read in the browser and sent as
// base64 to the JSON API; the step-up dialog confirms important actions on the loan page.
import { api, label, toast } from '/static/app.js';

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(',', 2)[1] || '');
    reader.onerror = () => reject(new Error(label('fp_unreadable')));
    reader.readAsDataURL(file);
  });
}

// The payload's canonical JSON as the server computes it (sorted keys, no spaces, UTF-8).
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function askForPrint(dialog, action) {
  return new Promise((resolve, reject) => {
    const input = dialog.querySelector('input[type=file]');
    input.value = '';
    dialog.querySelector('[data-step-up-action]').textContent = label(`action_${action}`);
    dialog.querySelector('[data-step-up-error]').textContent = '';
    dialog.addEventListener('close', () => {
      if (dialog.returnValue === 'confirm' && input.files[0]) resolve(input.files[0]);
      else reject(new Error(label('stepup_cancelled')));
    }, { once: true });
    dialog.showModal();
  });
}

// A step-up token for this exact command, or null when the bank runs without step-up.
export async function stepUp(loanId, action, payload) {
  const mine = await api('GET', '/api/me/fingerprints');
  if (mine.step_up !== 'required') return null;
  if (!mine.items.length) throw new Error(label('stepup_enroll_first'));
  const dialog = document.querySelector('[data-step-up-dialog]');
  const file = await askForPrint(dialog, action);
  const granted = await api('POST', '/api/step-up', {
    loan_id: loanId || 0, action, payload_sha256: await sha256Hex(canonical(payload)),
    image_base64: await readBase64(file), dpi: 500, device: 'browser-upload',
  });
  return granted.step_up;
}

// Changing one's own prints: a present administrator's or supervisor's print (always for the
// first enrollment), or else a step-up with a finger already enrolled.
async function vouchForOwnPrints(form, body) {
  const witness = form.elements.witness.value.trim();
  const witnessFile = form.elements.witness_image.files[0];
  if (witness || witnessFile) {
    if (!witness || !witnessFile) throw new Error('请填写在场管理员并采集其指纹 / name the witness and scan their print');
    body.witness = witness;
    body.witness_image_base64 = await readBase64(witnessFile);
    return;
  }
  const mine = await api('GET', '/api/me/fingerprints');
  if (!mine.items.length) throw new Error('首次采集需管理员或主管在场按指纹 / a first enrollment needs an administrator or supervisor present');
  const dialog = document.querySelector('[data-step-up-dialog]');
  const probe = await askForPrint(dialog, 'enroll_fingerprint');
  const granted = await api('POST', '/api/step-up', {
    loan_id: 0, action: 'enroll_fingerprint', payload_sha256: await sha256Hex(canonical({ finger: body.finger })),
    image_base64: await readBase64(probe), dpi: 500, device: 'browser-upload',
  });
  body.step_up = granted.step_up;
}

async function enroll(form) {
  const file = form.elements.image.files[0];
  const error = form.querySelector('.error');
  error.textContent = '';
  const body = { finger: Number(form.elements.finger.value), dpi: Number(form.elements.dpi.value || 500),
                 image_base64: await readBase64(file) };
  if (form.dataset.customer) body.customer_id = Number(form.dataset.customer);
  try {
    if (form.dataset.self) await vouchForOwnPrints(form, body);
    const result = await api('POST', form.dataset.enroll, body);
    toast(result.duplicates ? `${label('fp_enrolled_done')}; ${label('flag_duplicate_identity')} (${result.duplicates})` : label('fp_enrolled_done'),
          Boolean(result.duplicates));
    window.location.reload();
  } catch (failure) {
    error.textContent = failure.message;
  }
}

function picture(src, caption) {
  const figure = document.createElement('figure');
  const img = document.createElement('img');
  img.src = `data:image/png;base64,${src}`;
  img.alt = caption;
  img.style.maxWidth = '280px';
  const text = document.createElement('figcaption');
  text.textContent = caption;
  figure.append(img, text);
  return figure;
}

// Why one person's print was refused, in the page's words (the API's reason is English).
function why(person, threshold) {
  if (person.score !== undefined && person.score !== null) return `${person.score.toFixed(1)} < ${threshold}`;
  return label(person.error ? 'fp_unreadable' : 'fp_no_capture');
}

async function desk(form) {
  const error = document.querySelector('[data-testid=desk-error]');
  error.textContent = '';
  const captures = [];
  for (const input of form.querySelectorAll('input[type=file][data-customer]')) {
    if (!input.files[0]) continue;
    captures.push({ customer_id: Number(input.dataset.customer), image_base64: await readBase64(input.files[0]),
                    dpi: Number(form.elements.dpi.value || 500), device: form.elements.device.value || '' });
  }
  let result;
  try {
    result = await api('POST', form.dataset.desk, { captures });
  } catch (failure) {
    error.textContent = failure.message;
    return;
  }
  const section = document.querySelector('[data-testid=desk-result]');
  section.hidden = false;
  const decision = section.querySelector('[data-testid=decision]');
  decision.dataset.matched = String(result.matched);
  if (result.matched) decision.textContent = label('fp_matched');
  else {
    decision.replaceChildren(`${label('fp_refused')}: `);
    result.people.filter((p) => !p.matched).forEach((p, i) => decision.append(i ? '; ' : '',
      Object.assign(document.createElement('span'), { textContent: p.name, translate: false }),
      ` (${why(p, result.threshold)})`));
  }
  const people = section.querySelector('[data-testid=desk-people]');
  people.replaceChildren();
  for (const person of result.people) {
    const row = document.createElement('div');
    row.className = 'print-pair';
    row.dataset.testid = `person-${person.customer_id}`;
    row.style.display = 'flex';
    row.style.gap = '1em';
    if (person.enrollment_png) row.append(picture(person.enrollment_png, `${label('fp_enrolled')} (${person.enrolled_minutiae} ${label('fp_minutiae')})`));
    if (person.capture_png) row.append(picture(person.capture_png, `${label('stepup_capture')} (${person.minutiae} ${label('fp_minutiae')})`));
    const verdict = document.createElement('p');
    verdict.dataset.testid = `score-${person.customer_id}`;
    verdict.append(Object.assign(document.createElement('span'), { textContent: person.name, translate: false }),
      `: ${person.score === undefined ? '—' : person.score.toFixed(1)} / ${result.threshold} → `
      + (person.matched ? label('fp_match_one') : `${label('fp_no_match')} (${why(person, result.threshold)})`));
    const block = document.createElement('div');
    block.append(row, verdict);
    people.append(block);
  }
}

async function panel(section) {
  const summary = section.querySelector('[data-fingerprint-summary]');
  let status;
  try {
    status = await api('GET', `/api/loans/${section.dataset.fingerprintPanel}/fingerprints`);
  } catch {
    return;  // not for this reader (e.g. the applicant)
  }
  const list = document.createElement('ul');
  for (const p of status.people) {
    const name = Object.assign(document.createElement('span'), { textContent: p.name, translate: false });
    const item = document.createElement('li');
    item.append(`${label(p.role === 'applicant' ? 'fp_applicant' : 'fp_guarantor')} `, name,
      `: ${p.fingers.length} / ${status.min_fingers}`);
    list.append(item);
  }
  summary.replaceChildren(list);
  if (status.duplicates.length) {
    const warning = document.createElement('div');
    warning.className = 'error';
    warning.dataset.testid = 'duplicate-warning';
    const who = Object.assign(document.createElement('span'), { translate: false, textContent: status.duplicates.map(
      (d) => `${d.name} ≈ ${d.other.name} (${d.other.id_number}), ${d.score.toFixed(1)}`).join('; ') });
    warning.append(`${label('flag_duplicate_identity')}: `, who);
    summary.append(warning);
  }
}

async function myFingers(list) {
  const mine = await api('GET', '/api/me/fingerprints');
  list.replaceChildren(...mine.items.map((f) => Object.assign(document.createElement('li'),
    { textContent: `${label(`finger_${f.finger}`)}: ${f.minutiae} ${label('fp_minutiae')}, ${f.captured_at.slice(0, 16).replace('T', ' ')}` })));
}

document.addEventListener('submit', (event) => {
  const form = event.target;
  if (form.dataset.enroll) { event.preventDefault(); enroll(form); }
  else if (form.dataset.desk) { event.preventDefault(); desk(form); }
});

const section = document.querySelector('[data-fingerprint-panel]');
if (section) panel(section);
const list = document.querySelector('[data-fingers-list]');
if (list) myFingers(list);
