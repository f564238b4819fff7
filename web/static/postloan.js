// Post-loan record forms: the scanned pages are read in the browser and sent as base64.
import { api, label, toast } from '/static/app.js';

const asBase64 = (file) => new Promise((resolve, reject) => {
  const reader = new FileReader();
  reader.onload = () => resolve(String(reader.result).split(',', 2)[1]);
  reader.onerror = () => reject(reader.error);
  reader.readAsDataURL(file);
});

document.addEventListener('submit', async (event) => {
  const form = event.target;
  if (!form.dataset.record) return;
  event.preventDefault();
  const pages = [];
  for (const file of form.querySelector('input[type="file"]').files) {
    pages.push({ filename: file.name, media_type: file.type || 'application/pdf', content_base64: await asBase64(file) });
  }
  const body = { kind: form.elements.kind.value, summary: form.elements.summary.value, pages };
  if (form.elements.on_day.value) body.on_day = form.elements.on_day.value;
  if (form.elements.amount && form.elements.amount.value) body.amount_fen = Math.round(Number(form.elements.amount.value) * 100);
  if (form.elements.covers_due_on && form.elements.covers_due_on.value) body.covers_due_on = form.elements.covers_due_on.value;
  try {
    await api('POST', form.dataset.record, body);
    toast(label('pl_filed'));
    window.location.reload();
  } catch (error) {
    const box = document.querySelector('[data-testid="record-error"]');
    if (box) box.textContent = error.message;
    toast(error.message, true);
  }
});
