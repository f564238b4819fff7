// The public portal: apply, look up progress, leave feedback (JSON to the API, no sign-in).
import { api, label, toast } from './app.js';

const zh = document.documentElement.lang !== 'en';

function values(form) {
  const out = {};
  for (const element of form.elements) {
    if (!element.name || element.value === '') continue;
    const type = element.dataset.type;
    out[element.name] = type === 'money' ? Math.round(Number(element.value) * 100)
      : type === 'integer' ? Number(element.value) : element.value.trim();
  }
  return out;
}

const handlers = {
  async apply(form) {
    const payload = values(form);
    payload.id_number = payload.id_number.toUpperCase();
    const result = await api('POST', '/api/applications', { action: 'apply', payload });
    document.querySelector('[data-testid=tracking-code]').textContent = result.loan.tracking_code;
    document.getElementById('apply-result').hidden = false;
    form.hidden = true;
  },
  async progress(form) {
    const { tracking_code, who } = values(form);
    const key = /^1[0-9]{10}$/.test(who) ? 'phone' : 'id_number';
    const query = new URLSearchParams({ tracking_code, [key]: key === 'id_number' ? who.toUpperCase() : who });
    const box = document.getElementById('progress-result');
    box.hidden = true;  // a failed lookup must not leave the previous case's answer on screen
    for (const field of box.querySelectorAll('[data-testid]')) field.replaceChildren();
    const result = await api('GET', `/api/progress?${query}`);
    document.querySelector('[data-testid=progress-stage]').textContent = zh ? result.stage_zh : result.stage_en;
    document.querySelector('[data-testid=progress-reason]').textContent = result.reason || '';
    const steps = document.querySelector('[data-testid=progress-steps]');
    steps.replaceChildren(...result.steps.map((step) => {
      const item = document.createElement('li');
      item.textContent = `${step.at.slice(0, 16).replace('T', ' ')}  ${zh ? step.stage_zh : step.stage_en}`;
      return item;
    }));
    document.getElementById('progress-result').hidden = false;
  },
  async feedback(form) {
    await api('POST', '/api/feedback', values(form));
    document.getElementById('feedback-result').hidden = false;
    form.hidden = true;
  },
};

document.addEventListener('submit', async (event) => {
  const form = event.target;
  const handler = handlers[form.dataset.portal];
  if (!handler) return;
  event.preventDefault();
  try {
    await handler(form);
  } catch (error) {
    toast(error.message, true);
  }
});
