// The recording player: an HTML5 video (the server answers Range requests, so seeking loads
// only what is needed) beside the meeting's timeline from its manifest — joins, leaves, phase
// changes — each a button that seeks the video to that moment.
import { label } from '/static/app.js';


function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

// Where the video's time 0 lies on the meeting's clock: the first packet of the track whose
// hash is this file's, else the first packet of any track, else the meeting's start.
function origin(manifest, digest) {
  const tracks = manifest.tracks || [];
  const own = tracks.find((t) => t.sha256 && t.sha256 === digest && t.first_packet_time != null);
  if (own) return own.first_packet_time;
  const firsts = tracks.map((t) => t.first_packet_time).filter((t) => t != null);
  return firsts.length ? Math.min(...firsts) : manifest.started_at;
}

export function timeline(manifest, digest) {
  const zero = origin(manifest, digest);
  const names = Object.fromEntries((manifest.tracks || []).map((t) => [t.participant_id, t.display_name]));
  return (manifest.events || [])
    .map((e) => ({ ...e, offset: Math.max(0, e.at - zero), who: names[e.participant_id] || e.participant_id || '' }))
    .sort((a, b) => a.offset - b.offset);
}

async function setUp(video) {
  const list = document.querySelector('[data-testid="timeline"]');
  const lang = list?.dataset.lang === 'en' ? 'en' : 'zh';
  const url = video.dataset.manifest;
  if (!list || !url) return;
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) {
    list.textContent = label('tl_no_manifest');
    return;
  }
  const manifest = await response.json();
  const events = timeline(manifest, video.dataset.digest || '');
  list.replaceChildren(...events.map((event) => {
    const li = document.createElement('li');
    li.dataset.type = event.type;
    li.dataset.offset = String(event.offset);
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = clock(event.offset);
    button.addEventListener('click', () => {
      video.currentTime = event.offset;
      video.play().catch(() => {});
    });
    const name = label(`tl_${event.type}`);
    const detail = event.type === 'phase' ? label(`phase_${event.phase}`) : event.who;
    li.append(button, ` ${name}${detail ? ` · ${detail}` : ''}`);
    return li;
  }));
  const items = [...list.children];
  video.addEventListener('timeupdate', () => {
    let current = null;
    for (const li of items) if (Number(li.dataset.offset) <= video.currentTime) current = li;
    for (const li of items) li.classList.toggle('current', li === current);
  });
  list.dataset.ready = 'true';
}

for (const video of document.querySelectorAll('video[data-player]')) setUp(video);
